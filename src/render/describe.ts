/**
 * Plain-text facts about an incident shared by the Slack and email renderers. No markup here: each
 * renderer escapes for its own medium, so a label value is always data.
 */
import { encodeComponent } from '../context/safe-text.js';
import { createDisplayClock } from '../domain/display-time.js';
import { formatElapsed } from '../domain/duration.js';
import { matcherSetText } from '../domain/matchers.js';
import type { AlertState, IncidentSnapshot } from '../domain/model.js';

/** Labels that say which thing is affected, in the order a dispatcher looks for them. */
const SUBJECT_LABELS = [
  'vehicle_id',
  'shipment_id',
  'facility',
  'depot',
  'service',
  'instance',
  'name',
  'job',
];
/** Labels never worth a line: they are in the title already, or are plumbing. */
const HIDDEN_LABELS = new Set(['alertname', 'severity', '__name__', 'prometheus', 'monitor', 'team']);

export function alertnameOf(snapshot: IncidentSnapshot): string {
  const names = [...new Set(snapshot.alerts.map((a) => a.labels.alertname ?? ''))].filter(Boolean);
  return (
    snapshot.commonLabels.alertname ??
    snapshot.groupLabels.alertname ??
    (names.length === 1 ? names[0]! : `${names.length} alerts`)
  );
}

/** The one label value that names what is affected, when the whole group shares it (TRK-0042, postgres:9187). */
export function subjectOf(snapshot: IncidentSnapshot): string | undefined {
  for (const name of SUBJECT_LABELS) {
    const value = snapshot.commonLabels[name] ?? snapshot.groupLabels[name];
    if (value) return value;
  }
  return undefined;
}

/** Vehicles named in a title before "+N": a header holds 150 characters. */
const TITLE_VEHICLES = 3;

export function titleOf(snapshot: IncidentSnapshot): string {
  const subject = subjectOf(snapshot);
  if (subject) return `${alertnameOf(snapshot)} · ${subject}`;
  // Several vehicles in one group: name them, so the header says which trucks without opening the message.
  const vehicles = [...new Set(snapshot.alerts.map((a) => a.labels.vehicle_id).filter(Boolean))];
  if (vehicles.length < 2) return alertnameOf(snapshot);
  const named = vehicles.slice(0, TITLE_VEHICLES).join(', ');
  const more = vehicles.length > TITLE_VEHICLES ? ` +${vehicles.length - TITLE_VEHICLES}` : '';
  return `${alertnameOf(snapshot)} · ${named}${more}`;
}

export function summaryOf(snapshot: IncidentSnapshot): string | undefined {
  const firing = snapshot.alerts.find((a) => a.status === 'firing') ?? snapshot.alerts[0];
  return (
    snapshot.commonAnnotations.summary ??
    (snapshot.alerts.length === 1 ? firing?.annotations.summary : undefined)
  );
}

export function descriptionOf(snapshot: IncidentSnapshot): string | undefined {
  return (
    snapshot.commonAnnotations.description ??
    (snapshot.alerts.length === 1 ? snapshot.alerts[0]?.annotations.description : undefined)
  );
}

/** The labels that tell this alert apart from the rest of its group. */
export function distinguishingLabels(alert: AlertState, snapshot: IncidentSnapshot): [string, string][] {
  return Object.entries(alert.labels).filter(
    ([name, value]) =>
      !HIDDEN_LABELS.has(name) && (snapshot.alerts.length === 1 || snapshot.commonLabels[name] !== value),
  );
}

export { formatElapsed };

/** A time in the display_timezone (UTC unless given), with its date when not on `now`'s day. */
export function formatTime(ms: number, timeZone?: string, now: number = ms): string {
  return createDisplayClock(timeZone, now).format(ms);
}

/**
 * Only http(s) links are rendered: a label or annotation must not smuggle javascript: or mailto: links. The
 * URL parser leaves `|` as it is, and in Slack's `<url|text>` the first `|` ends the URL: an annotation
 * `http://evil.example/a|Official runbook` would choose the link's visible text. So `|` is encoded.
 */
export function safeUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
    return parsed.toString().replace(/\|/g, '%7C');
  } catch {
    return undefined;
  }
}

export function alertmanagerUrl(snapshot: IncidentSnapshot): string | undefined {
  const base = safeUrl(snapshot.externalURL);
  if (!base) return undefined;
  const filter = matcherSetText(Object.entries(snapshot.groupLabels));
  return `${base.replace(/\/+$/, '')}/#/alerts?receiver=${encodeComponent(snapshot.receiver)}&filter=${encodeComponent(filter)}`;
}

export function countByStatus(snapshot: IncidentSnapshot): { firing: number; resolved: number } {
  const firing = snapshot.alerts.filter((a) => a.status === 'firing').length;
  return { firing, resolved: snapshot.alerts.length - firing };
}
