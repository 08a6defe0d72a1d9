/**
 * Acting on what Alertmanager says (DESIGN.md §Alertmanager is the source of truth): an alert that no
 * answering Alertmanager reports any more is resolved in the incident snapshot, and a silence that ended
 * early in Alertmanager ends the relay's pause. Both then queue the incident's deliveries, so every
 * destination hears of it.
 */

import type { IncidentFlags } from '../domain/delivery-log.js';
import { incidentDestinations } from '../domain/destinations.js';
import type { IncidentSnapshot } from '../domain/model.js';
import type { DeliveryQueuePort, ReconcileJobData } from '../enqueue/delivery-queue.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import { type AlertmanagerVerdict, countResolved, resolveGoneAlerts } from './verdict.js';

export interface TruthDeps {
  alerts: AlertStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueuePort;
  logger: Logger;
  metrics?: Metrics | undefined;
}

/** Like ingest: another writer committing the same group this many times in a row is a fault. */
const MAX_COMMIT_ATTEMPTS = 8;

function jobsExcept(
  snapshot: IncidentSnapshot,
  flags: IncidentFlags | undefined,
  deliveryId: string,
  now: number,
): ReconcileJobData[] {
  const targets = new Map(incidentDestinations(snapshot, flags).map((d) => [d.id, d] as const));
  targets.delete(deliveryId);
  return [...targets.values()].map((d) => ({
    groupId: snapshot.groupId,
    incidentId: snapshot.incidentId,
    deliveryId: d.id,
    kind: d.kind,
    severity: snapshot.severity,
    acceptedAt: now,
  }));
}

/**
 * Resolves the alerts Alertmanager no longer reports. The change is applied to the group's latest snapshot
 * and committed with compare-and-set on its revision, as ingest does, so a webhook merged meanwhile is kept
 * and a late resolve from Alertmanager is then a duplicate. The commit marks the revision pending until the
 * other deliveries are queued (`finishResolve` completes it after a crash). Returns the latest snapshot
 * (changed or not), or undefined when the incident is no longer the group's current one.
 */
export async function resolveGone(
  snapshot: IncidentSnapshot,
  verdict: AlertmanagerVerdict,
  flags: IncidentFlags,
  deliveryId: string,
  now: number,
  deps: TruthDeps,
): Promise<{ snapshot: IncidentSnapshot; resolved: number } | undefined> {
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
    const stored = await deps.alerts.loadGroup(snapshot.groupId);
    const current = stored.snapshot;
    if (!current || current.incidentId !== snapshot.incidentId) return undefined;
    const next = resolveGoneAlerts(current, verdict, now);
    if (!next) return { snapshot: current, resolved: 0 };
    const rev = await deps.alerts.commitGroup(next, stored.rev, true);
    if (rev === undefined) continue;
    const resolved = countResolved(current, next);
    deps.metrics?.alertsResolvedByCheck.inc(resolved);
    deps.logger.info(
      {
        incidentId: next.incidentId,
        resolved,
        incidentStatus: next.status,
        answered: verdict.answered,
      },
      'resolved alerts that no answering Alertmanager reports any more (it sends no resolve for an alert silenced or inhibited when it ended)',
    );
    await deps.queue.enqueue(jobsExcept(next, flags, deliveryId, now));
    await deps.alerts
      .finishCommit(next, rev)
      .catch((error: unknown) =>
        deps.logger.warn(
          { err: { message: (error as Error).message } },
          'finishing the resolve commit failed',
        ),
      );
    return { snapshot: next, resolved };
  }
  throw new Error(
    `group of incident ${snapshot.incidentId} changed under ${MAX_COMMIT_ATTEMPTS} consecutive commits`,
  );
}

/**
 * A delivery telling people of a resolve finishes a resolve commit whose deliveries a crash kept from being
 * queued: Alertmanager sends no webhook that would (it never sent the resolve in the first place).
 */
export async function finishResolve(
  snapshot: IncidentSnapshot,
  flags: IncidentFlags,
  deliveryId: string,
  now: number,
  deps: TruthDeps,
): Promise<void> {
  const stored = await deps.alerts.loadGroup(snapshot.groupId);
  if (stored.pending === undefined || stored.snapshot?.incidentId !== snapshot.incidentId) return;
  await deps.queue.enqueue(jobsExcept(stored.snapshot, flags, deliveryId, now));
  await deps.alerts.finishCommit(stored.snapshot, stored.rev);
}

/**
 * Ends the pause of a silence made from Slack that Alertmanager no longer applies (expired or deleted
 * early), unless a newer silence from Slack extended it meanwhile. Queues the other deliveries so every
 * message drops its "silenced" line and their reminders resume. Returns the flags as they are now.
 */
export async function endSilencePause(
  snapshot: IncidentSnapshot,
  flags: IncidentFlags,
  deliveryId: string,
  now: number,
  deps: TruthDeps,
): Promise<IncidentFlags> {
  const judged = flags.silencedUntil;
  let ended = false;
  const updated = await deps.deliveries.updateFlags(snapshot.groupId, snapshot.incidentId, (current) => {
    ended = current.silencedUntil !== undefined && current.silencedUntil === judged && judged > now;
    if (!ended) return current;
    const { silencedUntil: _ended, ...rest } = current;
    return {
      ...rest,
      ...(current.silences
        ? { silences: current.silences.map((s) => (s.until > now ? { ...s, until: now } : s)) }
        : {}),
    };
  });
  if (!ended) return updated;
  deps.logger.info(
    { incidentId: snapshot.incidentId },
    'Alertmanager no longer silences the alerts: the silence ended early, reminders resume',
  );
  await deps.queue.enqueue(jobsExcept(snapshot, updated, deliveryId, now));
  return updated;
}
