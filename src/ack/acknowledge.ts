/**
 * Acknowledge: "I have it". A per-incident flag that stops reminders on every destination (DESIGN.md
 * §Words). It covers the alerts firing when it was given, so a new alert joining the group resumes them.
 */

import type { IncidentFlags } from '../domain/delivery-log.js';
import { incidentDestinations } from '../domain/destinations.js';
import { ladderClockStart } from '../domain/ladder.js';
import type { IncidentSnapshot } from '../domain/model.js';
import { acknowledgementCovers, firingKeys } from '../domain/plan.js';
import type { DeliveryQueuePort } from '../enqueue/delivery-queue.js';
import type { Metrics } from '../observability/metrics.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';

export interface IncidentRef {
  groupId: string;
  incidentId: string;
}

export interface AcknowledgeDeps {
  alerts: AlertStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueuePort;
  /** relay_ack_seconds: time to acknowledge. */
  metrics?: Pick<Metrics, 'ackSeconds'> | undefined;
}

export type AcknowledgeResult =
  | { status: 'acknowledged' | 'already'; snapshot: IncidentSnapshot; flags: IncidentFlags }
  | { status: 'resolved'; snapshot: IncidentSnapshot }
  | { status: 'not_found' };

/** Reconcile every destination of the incident (flags changed what the messages should say). */
export async function reconcileAll(
  snapshot: IncidentSnapshot,
  flags: IncidentFlags,
  queue: DeliveryQueuePort,
): Promise<void> {
  const all = incidentDestinations(snapshot, flags);
  await queue.enqueue(
    all.map((d) => ({
      groupId: snapshot.groupId,
      incidentId: snapshot.incidentId,
      deliveryId: d.id,
      kind: d.kind,
      severity: snapshot.severity,
      acceptedAt: Date.now(),
    })),
  );
}

/** Idempotent: a double click or Slack's retry finds the incident already acknowledged and changes nothing. */
export async function acknowledgeIncident(
  ref: IncidentRef,
  by: string,
  deps: AcknowledgeDeps,
  now = Date.now(),
  /** How it was given ("email link", "Slack"), for the timeline. */
  via?: string,
): Promise<AcknowledgeResult> {
  const snapshot = await deps.alerts.loadIncident(ref.groupId, ref.incidentId);
  if (!snapshot) return { status: 'not_found' };
  if (snapshot.status === 'resolved') return { status: 'resolved', snapshot };
  let changed = false;
  const flags = await deps.deliveries.updateFlags(ref.groupId, ref.incidentId, (current) => {
    if (acknowledgementCovers(current, snapshot)) return current;
    changed = true;
    return {
      ...current,
      acknowledged: {
        by,
        at: now,
        alertKeys: firingKeys(snapshot),
        truncatedAlerts: snapshot.truncatedAlerts,
        ...(via ? { via } : {}),
      },
    };
  });
  if (!changed) return { status: 'already', snapshot, flags };
  // Counted from the first notification, or from the last lapse: how long the incident went unacknowledged.
  deps.metrics?.ackSeconds.observe(Math.max(0, now - ladderClockStart(flags, snapshot.startedAt)) / 1000);
  await reconcileAll(snapshot, flags, deps.queue);
  return { status: 'acknowledged', snapshot, flags };
}
