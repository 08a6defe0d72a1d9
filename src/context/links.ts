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
