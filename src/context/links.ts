/** Links an alert message offers. Pure string building; label values may hold anything (see safe-text.ts). */
import { matcherSetText } from '../domain/matchers.js';
import { encodeComponent } from './safe-text.js';

// Labels that carry a measurement: a silence matching them would stop matching when the value moves.
const VOLATILE_LABELS = new Set(['temperature_c', 'value']);

/** Labels worth matching in a silence: the given ones minus measurements, alertname first. */
export function silenceMatchers(labels: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(labels)
    .filter(([name, value]) => !VOLATILE_LABELS.has(name) && value !== '')
    .sort(([a], [b]) => (a === 'alertname' ? -1 : b === 'alertname' ? 1 : a.localeCompare(b)));
}

/** Alertmanager's "new silence" form with the matchers filled in. */
export function buildSilenceUrl(alertmanagerUrl: string, matchers: readonly [string, string][]): string {
  const filter = matcherSetText(matchers);
  return `${stripTrailingSlash(alertmanagerUrl)}/#/silences/new?filter=${encodeComponent(filter)}`;
}

/** A catalog dashboard is an absolute URL or a path under the Grafana base URL. */
export function resolveDashboardUrl(grafanaUrl: string, urlOrPath: string): string {
  return urlOrPath.startsWith('/') ? stripTrailingSlash(grafanaUrl) + urlOrPath : urlOrPath;
}

export function buildVehicleDashboardUrl(grafanaUrl: string, template: string, vehicleId: string): string {
  return resolveDashboardUrl(grafanaUrl, template.replaceAll('{vehicle_id}', encodeComponent(vehicleId)));
}

function stripTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * The one runbook an incident shows, everywhere (README "Runbooks"): the alert rule's `runbook_url`
 * annotation when an alert carries one, else the catalog's. Among alerts the earliest-started one with an
 * annotation wins (ties by fingerprint), so a later alert or webhook cannot switch the runbook mid-incident.
 */
export function pickRunbook(
  alerts: readonly { annotations: Readonly<Record<string, string>>; startsAt: string; fingerprint: string }[],
  catalogRunbook: string | undefined,
): string | undefined {
  const annotated = alerts
    .filter((alert) => Object.hasOwn(alert.annotations, 'runbook_url') && alert.annotations.runbook_url)
    .sort((a, b) => a.startsAt.localeCompare(b.startsAt) || a.fingerprint.localeCompare(b.fingerprint));
  return annotated[0]?.annotations.runbook_url ?? catalogRunbook;
}

/**
 * A `tel:` link for a phone number written for people ("+31 6 1234 5042"): digits and a leading +, nothing
 * else, so fleet data can never smuggle another scheme or markup into the link. Undefined when too few digits.
 */
export function telUrl(phone: string): string | undefined {
  const digits = phone.replace(/[\s().\-/]/g, '');
  return /^\+?\d{3,20}$/.test(digits) ? `tel:${digits}` : undefined;
}
