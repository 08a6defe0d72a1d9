/**
 * Deduplication (DESIGN.md §Deduplication) as a pure merge of a webhook into the incident snapshot.
 * Alertmanager HA replicas, retries and repeats all send copies; a copy whose merge changes nothing is a
 * duplicate. An alert (fingerprint, startsAt) seen resolved stays resolved, so a lagging replica's older
 * firing copy cannot re-open it; a new startsAt is a new firing.
 */

import {
  type AlertState,
  type AlertStatus,
  groupIdOf,
  type IncidentSnapshot,
  incidentIdOf,
  SEVERITY_RANK,
} from '../model.js';
import type { WebhookPayload } from '../receive/schema.js';

export interface MergeResult {
  snapshot: IncidentSnapshot;
  /** False for a duplicate: nothing a person should hear about changed. */
  changed: boolean;
  /** True when this webhook starts a new episode (a new incident id). */
  newIncident: boolean;
}

const alertKey = (a: { fingerprint: string; startsAt: string }) => `${a.fingerprint}@${a.startsAt}`;

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
  const alerts = [...merged.values()];

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
    alerts.length !== previous.alerts.length ||
    alerts.some((a) => known.get(alertKey(a))?.status !== a.status);

  const snapshot: IncidentSnapshot = {
    incidentId,
    groupId: groupIdOf(payload.receiver, payload.groupKey),
    receiver: payload.receiver,
    groupKey: payload.groupKey,
    startedAt,
    status,
    truncatedAlerts,
    alerts,
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
