/**
 * Silence from Slack: a real silence in Alertmanager for the incident's group (groupLabels as equality
 * matchers), created on every Alertmanager in ALERTMANAGER_URL because an unclustered pair does not share
 * silences. Reminders pause until it ends and resume if the alerts still fire.
 */

import { type IncidentRef, reconcileAll } from '../ack/acknowledge.js';
import type { IncidentFlags } from '../domain/delivery-log.js';
import type { IncidentSnapshot } from '../domain/model.js';
import type { DeliveryQueuePort } from '../enqueue/delivery-queue.js';
import { incidentPageUrl } from '../incidents/links.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import { groupFilters } from './alerts.js';

export interface CreatedSilence {
  alertmanager: string;
  id: string;
  matched: number;
}

export interface SilenceRequest {
  snapshot: IncidentSnapshot;
  durationMs: number;
  by: string;
  comment: string;
  now: number;
}

const trim = (url: string) => url.replace(/\/+$/, '');

export function silenceMatchersOf(
  snapshot: IncidentSnapshot,
): { name: string; value: string; isRegex: false; isEqual: true }[] {
  return Object.entries(snapshot.groupLabels).map(([name, value]) => ({
    name,
    value,
    isRegex: false,
    isEqual: true,
  }));
}

/** Creates the silence on each Alertmanager; returns what was created and why the others refused. */
export async function createSilences(
  urls: readonly string[],
  request: SilenceRequest,
  timeoutMs = 3000,
): Promise<{ created: CreatedSilence[]; errors: string[] }> {
  const matchers = silenceMatchersOf(request.snapshot);
  const body = JSON.stringify({
    matchers,
    startsAt: new Date(request.now).toISOString(),
    endsAt: new Date(request.now + request.durationMs).toISOString(),
    createdBy: request.by,
    comment: request.comment,
  });
  const filter = groupFilters(request.snapshot).join('&');
  const results = await Promise.all(
    urls.map(async (url): Promise<CreatedSilence | string> => {
      try {
        const res = await fetch(`${trim(url)}/api/v2/silences`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!res.ok) return `${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`;
        const { silenceID } = (await res.json()) as { silenceID: string };
        const alerts = await fetch(`${trim(url)}/api/v2/alerts?${filter}`, {
          signal: AbortSignal.timeout(timeoutMs),
        })
          .then((r) => (r.ok ? (r.json() as Promise<unknown[]>) : []))
          .catch(() => []);
        return { alertmanager: url, id: silenceID, matched: alerts.length };
      } catch (error) {
        return `${url}: ${(error as Error).message}`;
      }
    }),
  );
  return {
    created: results.filter((r): r is CreatedSilence => typeof r !== 'string'),
    errors: results.filter((r): r is string => typeof r === 'string'),
  };
}

/** The Silence buttons: Slack's, and the operator console's form (which goes through the same queue). */
export type SilenceSource = 'Slack' | 'the console';

export interface SilenceDeps {
  alerts: AlertStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueuePort;
  alertmanagerUrls: readonly string[];
  publicUrl: string;
}

export type SilenceResult =
  | { status: 'silenced'; flags: IncidentFlags; created: CreatedSilence[]; errors: string[] }
  | { status: 'failed'; reason: string }
  | { status: 'not_found' | 'resolved' };

/** When no Alertmanager is reachable or all refuse, nothing changes and the caller tells the user why. */
export async function silenceIncident(
  ref: IncidentRef,
  durationMs: number,
  by: string,
  deps: SilenceDeps,
  now = Date.now(),
  /** Where it was asked for, for the silence's comment in Alertmanager. */
  from: SilenceSource = 'Slack',
): Promise<SilenceResult> {
  if (deps.alertmanagerUrls.length === 0)
    return { status: 'failed', reason: 'ALERTMANAGER_URL is not set, so the relay cannot create silences' };
  const snapshot = await deps.alerts.loadIncident(ref.groupId, ref.incidentId);
  if (!snapshot) return { status: 'not_found' };
  if (snapshot.status === 'resolved') return { status: 'resolved' };
  const { created, errors } = await createSilences(deps.alertmanagerUrls, {
    snapshot,
    durationMs,
    by,
    comment: `Silenced from ${from} by ${by} for incident ${snapshot.incidentId}: ${incidentPageUrl(deps.publicUrl, snapshot.incidentId)}`,
    now,
  });
  if (created.length === 0)
    return { status: 'failed', reason: `no Alertmanager accepted the silence: ${errors.join('; ')}` };
  const until = now + durationMs;
  const flags = await deps.deliveries.updateFlags(ref.groupId, ref.incidentId, (current) => ({
    ...current,
    silencedUntil: Math.max(current.silencedUntil ?? 0, until),
    silences: [...(current.silences ?? []), ...created.map((c) => ({ ...c, until, by }))].slice(-10),
  }));
  await reconcileAll(snapshot, flags, deps.queue);
  return { status: 'silenced', flags, created, errors };
}
