/**
 * Deduplication (DESIGN.md §Deduplication) as a pure merge of a webhook into the incident snapshot.
 * Alertmanager HA replicas, retries and repeats all send copies; a copy whose merge changes nothing is a
 * duplicate. An alert (fingerprint, startsAt) seen resolved stays resolved, so a lagging replica's older
 * firing copy cannot re-open it; a new startsAt is a new firing.
 */

import {
  type AlertState,
  type AlertStatus,
  alertKey,
  groupIdOf,
  type IncidentSnapshot,
  incidentIdOf,
  SEVERITY_RANK,
} from '../domain/model.js';
import type { WebhookPayload } from '../receive/schema.js';

export interface MergeResult {
  snapshot: IncidentSnapshot;
  /** False for a duplicate: nothing a person should hear about changed. */
  changed: boolean;
  /** True when this webhook starts a new episode (a new incident id). */
  newIncident: boolean;
}

/**
 * `max_alerts` caps one webhook, but an episode carries every alert forward: 60 webhooks of 500 new
 * fingerprints made a 5.5 MB snapshot that every later webhook reads, merges and writes back. An incident
 * keeps at most this many alerts and about this many bytes of them; the rest are counted (omittedAlerts).
 */
export const MAX_INCIDENT_ALERTS = 1000;
export const MAX_INCIDENT_BYTES = 1024 * 1024;

/** About the JSON size of an alert in the snapshot (string lengths plus field names and quotes). */
function alertBytes(alert: AlertState): number {
  let bytes =
    160 + alert.fingerprint.length + alert.startsAt.length + alert.endsAt.length + alert.generatorURL.length;
  for (const set of [alert.labels, alert.annotations])
    for (const key in set) bytes += key.length + (set[key]?.length ?? 0) + 6;
  return bytes;
}

/**
 * Drops alerts until the incident is within MAX_INCIDENT_ALERTS and MAX_INCIDENT_BYTES. Resolved alerts go
 * first, then firing ones this webhook did not mention (oldest first). This webhook's own alerts go last, so
 * the next copy of the same notification (a replica, a retry, a repeat) still finds them and is a duplicate.
 * One alert always stays, so a firing incident keeps a firing alert.
 */
function boundAlerts(
  alerts: AlertState[],
  incomingKeys: ReadonlySet<string>,
): { kept: AlertState[]; evicted: number } {
  const sizes = new Map<AlertState, number>();
  let bytes = 0;
  for (const alert of alerts) {
    const size = alertBytes(alert);
    sizes.set(alert, size);
    bytes += size;
  }
  if (alerts.length <= MAX_INCIDENT_ALERTS && bytes <= MAX_INCIDENT_BYTES)
    return { kept: alerts, evicted: 0 };
  const mentioned = (a: AlertState) => incomingKeys.has(alertKey(a));
  const order = [
    ...alerts.filter((a) => a.status === 'resolved' && !mentioned(a)),
    ...alerts.filter((a) => a.status === 'firing' && !mentioned(a)),
    ...alerts.filter((a) => a.status === 'resolved' && mentioned(a)).reverse(),
    ...alerts.filter((a) => a.status === 'firing' && mentioned(a)).reverse(),
  ];
  const dropped = new Set<AlertState>();
  let count = alerts.length;
  for (const alert of order) {
    if (count <= 1 || (count <= MAX_INCIDENT_ALERTS && bytes <= MAX_INCIDENT_BYTES)) break;
    dropped.add(alert);
    count--;
    bytes -= sizes.get(alert) ?? 0;
  }
  return { kept: alerts.filter((a) => !dropped.has(a)), evicted: dropped.size };
}

/**
 * Only a firing alert, shown or left out by max_alerts, can open an incident. A webhook without one (an
 * empty alert list, or a resolve of a group the relay never saw firing) has nothing to announce for a group
 * without an open incident: announcing "RESOLVED … after 0m" would tell people about a firing nobody saw.
 */
export function hasFiringAlert(
  payload: Pick<WebhookPayload, 'status' | 'alerts' | 'truncatedAlerts'>,
): boolean {
  return (
    payload.alerts.some((a) => a.status === 'firing') ||
    (payload.status === 'firing' && payload.truncatedAlerts > 0)
  );
}

/** The group's severity: the common label if there is one, else the highest among firing alerts. */
export function severityOf(commonLabels: Record<string, string>, alerts: readonly AlertState[]): string {
  if (commonLabels.severity) return commonLabels.severity;
  const pool = alerts.some((a) => a.status === 'firing')
    ? alerts.filter((a) => a.status === 'firing')
    : alerts;
  let best = '';
  for (const alert of pool) {
    const severity = alert.labels.severity ?? '';
    if ((SEVERITY_RANK[severity] ?? 0) > (SEVERITY_RANK[best] ?? 0) || (!best && severity)) best = severity;
  }
  return best || 'unknown';
}

export function mergeWebhook(
  previous: IncidentSnapshot | undefined,
  payload: WebhookPayload,
  now: number,
  /** The caller usually has it already (it read the group by it): one hash less per webhook. */
  groupId = groupIdOf(payload.receiver, payload.groupKey),
): MergeResult {
  const known = new Map<string, AlertState>();
  const episodeOver = !previous || previous.status === 'resolved';
  for (const alert of previous?.alerts ?? []) known.set(alertKey(alert), alert);

  // Build the incoming view, keeping known-resolved alerts resolved.
  const incoming: AlertState[] = payload.alerts.map((a) => {
    const prior = known.get(alertKey(a));
    const status: AlertStatus = prior?.status === 'resolved' ? 'resolved' : a.status;
    return {
      fingerprint: a.fingerprint,
      startsAt: a.startsAt,
      status,
      labels: a.labels,
      annotations: a.annotations,
      endsAt: status === 'resolved' && prior?.status === 'resolved' ? prior.endsAt : a.endsAt,
      generatorURL: a.generatorURL,
    };
  });
  const newFiring = incoming.some(
    (a) => a.status === 'firing' && known.get(alertKey(a))?.status !== 'firing',
  );
  // A payload whose visible alerts are all copies we already know resolved is a lagging replica's old news.
  const allKnownResolved =
    incoming.length > 0 && incoming.every((a) => known.get(alertKey(a))?.status === 'resolved');
  const startsEpisode = episodeOver && newFiring;

  // Within an episode, alerts missing from this payload (truncated, or dropped by Alertmanager) keep their
  // last state; a new episode starts from this payload alone.
  const merged = new Map<string, AlertState>();
  if (!startsEpisode) for (const [key, alert] of known) merged.set(key, alert);
  for (const alert of incoming) merged.set(alertKey(alert), alert);
  const bounded = boundAlerts([...merged.values()], new Set(incoming.map(alertKey)));
  const alerts = bounded.kept;
  const omittedAlerts = (startsEpisode ? 0 : (previous?.omittedAlerts ?? 0)) + bounded.evicted;

  const hiddenFiring = payload.status === 'firing' && payload.truncatedAlerts > 0 && !allKnownResolved;
  const status: AlertStatus =
    alerts.some((a) => a.status === 'firing') || (hiddenFiring && (!episodeOver || startsEpisode))
      ? 'firing'
      : 'resolved';
  const truncatedAlerts = allKnownResolved && previous ? previous.truncatedAlerts : payload.truncatedAlerts;

  const startedAt = startsEpisode || !previous ? now : previous.startedAt;
  const incidentId =
    startsEpisode || !previous
      ? incidentIdOf(payload.receiver, payload.groupKey, startedAt)
      : previous.incidentId;

  const changed =
    !previous ||
    startsEpisode ||
    previous.status !== status ||
    previous.truncatedAlerts !== truncatedAlerts ||
    (previous.omittedAlerts ?? 0) !== omittedAlerts ||
    alerts.length !== previous.alerts.length ||
    alerts.some((a) => known.get(alertKey(a))?.status !== a.status);

  const snapshot: IncidentSnapshot = {
    incidentId,
    groupId,
    receiver: payload.receiver,
    groupKey: payload.groupKey,
    startedAt,
    status,
    truncatedAlerts,
    alerts,
    ...(omittedAlerts > 0 ? { omittedAlerts } : {}),
    groupLabels: payload.groupLabels,
    commonLabels: allKnownResolved && previous ? previous.commonLabels : payload.commonLabels,
    commonAnnotations: payload.commonAnnotations,
    // Replicas differ only here; keeping the episode's first keeps messages (which link to it) stable.
    externalURL: startsEpisode || !previous ? payload.externalURL : previous.externalURL,
    lastSeenAt: now,
    severity: severityOf(payload.commonLabels, alerts),
    deliveries: startsEpisode ? [] : (previous?.deliveries ?? []),
  };
  if (status === 'resolved')
    snapshot.resolvedAt = previous?.status === 'resolved' ? (previous.resolvedAt ?? now) : now;
  return { snapshot, changed, newIncident: startsEpisode || !previous };
}
