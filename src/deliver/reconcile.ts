/**
 * Reconcile (DESIGN.md §Pipeline, stage 5): make delivery D reflect incident I. Reads the latest snapshot,
 * so a job can be collapsed, retried, reordered or run twice and the destination still converges.
 */
import { randomUUID } from 'node:crypto';
import type { Policy } from '../config/config.js';
import type { DeliveryQueuePort, ReconcileJobData } from '../enqueue/delivery-queue.js';
import type { ChannelKind, DeliveryTarget, IncidentSnapshot } from '../model.js';
import type { Logger } from '../observability/logger.js';
import { buildView } from '../render/view.js';
import { deliveriesFor, selectRoutes } from '../route/route.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryStore, IncidentFlags } from '../store/delivery-store.js';
import type { AlertmanagerCheck } from './alertmanager-check.js';
import type { Deliverer, DeliveryRun } from './channels.js';
import type { ContextOutcome, ContextStage } from './context-stage.js';
import { RateLimitedError } from './errors.js';
import { nextWakeAt, planDelivery } from './plan.js';

export interface ReconcileDeps {
  alerts: AlertStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueuePort;
  deliverers: Record<ChannelKind, Deliverer>;
  context?: ContextStage | undefined;
  alertmanager?: AlertmanagerCheck | undefined;
  policy: Policy;
  oncallEmail: string | undefined;
  logger: Logger;
  now?: () => number;
  /** TTL of the per-delivery lock (ms); how long a crashed worker's lock blocks its delivery. */
  deliveryLockMs?: number;
}

export type ReconcileResult =
  | { status: 'done'; actions: string[]; nextAt?: number }
  | { status: 'gone'; reason: string };

/** Longer than any one run (a few Slack calls and one SMTP send, each with its own timeout). */
const LOCK_TTL_MS = 120_000;

/**
 * Escalation may add destinations: the routes the escalated severity would have taken, plus the cargo
 * class's contacts. Destinations only grow, and the escalated repeat applies to every delivery.
 */
function escalatedTargets(
  snapshot: IncidentSnapshot,
  outcome: ContextOutcome,
  deps: ReconcileDeps,
): DeliveryTarget[] {
  const escalation = outcome.escalation;
  if (!escalation) return [];
  const routes = escalation.severity
    ? selectRoutes(deps.policy, { ...snapshot.commonLabels, severity: escalation.severity }).routes
    : [];
  const targets = deliveriesFor(routes, deps.oncallEmail);
  if (escalation.addEmail.length) {
    const repeat = Math.min(
      ...[...targets, ...snapshot.deliveries].map((t) => t.repeatSeconds).filter((r) => r > 0),
      3600,
    );
    targets.push(
      ...deliveriesFor(
        [
          {
            name: `escalation:${escalation.rule}`,
            matchers: [],
            slack: [],
            email: escalation.addEmail,
            repeat,
            broadcast_reminders: false,
            continue: false,
          },
        ],
        undefined,
      ),
    );
  }
  return targets;
}

/** An escalated incident reminds at the shortest repeat of the destinations its escalation added. */
function effectiveDelivery(delivery: DeliveryTarget, flags: IncidentFlags): DeliveryTarget {
  const escalatedRepeat = (flags.extraDeliveries ?? []).map((t) => t.repeatSeconds).filter((r) => r > 0);
  if (!flags.escalation || escalatedRepeat.length === 0) return delivery;
  const repeat = Math.min(...escalatedRepeat);
  return delivery.repeatSeconds === 0 || repeat < delivery.repeatSeconds
    ? { ...delivery, repeatSeconds: repeat }
    : delivery;
}

export async function reconcileDelivery(
  job: ReconcileJobData,
  deps: ReconcileDeps,
): Promise<ReconcileResult> {
  const now = (deps.now ?? Date.now)();
  const { groupId, incidentId, deliveryId } = job;
  const token = randomUUID();
  if (
    !(await deps.deliveries.acquireLock(
      groupId,
      incidentId,
      deliveryId,
      token,
      deps.deliveryLockMs ?? LOCK_TTL_MS,
    ))
  ) {
    // Another job for this delivery is running; come back shortly rather than run beside it.
    throw new RateLimitedError(1000, 'lock');
  }
  try {
    const snapshot = await deps.alerts.loadIncident(groupId, incidentId);
    if (!snapshot) return { status: 'gone', reason: 'the incident expired from Redis' };
    let flags = await deps.deliveries.loadFlags(groupId, incidentId);
    const base = [...snapshot.deliveries, ...(flags.extraDeliveries ?? [])].find((d) => d.id === deliveryId);
    if (!base)
      return { status: 'gone', reason: `delivery ${deliveryId} is not part of incident ${incidentId}` };

    const context = deps.context ? await deps.context.describe(snapshot, now) : undefined;
    if (context?.escalation) flags = await recordEscalation(snapshot, context, flags, deps);
    const delivery = effectiveDelivery(base, flags);
    const log = await deps.deliveries.loadLog(groupId, incidentId, deliveryId);
    const view = buildView(snapshot, { now, flags, context: context?.view, severity: context?.severity });
    const run: DeliveryRun = {
      snapshot,
      delivery,
      log,
      flags,
      view,
      now,
      acceptedAt: job.acceptedAt,
      save: () => deps.deliveries.saveLog(groupId, incidentId, deliveryId, log),
    };
    const staleAfterMs = deps.policy.delivery.stale_after * 1000;
    const planInput = { snapshot, log, flags, delivery, now, staleAfterMs };
    let actions = planDelivery(planInput);
    if (deps.alertmanager && actions.some((a) => a.kind === 'reminder')) {
      const verdict = await deps.alertmanager.verdict(snapshot);
      if (verdict === 'suppressed') {
        actions = actions.filter((a) => a.kind !== 'reminder');
        log.reminderCheckedAt = now;
        await run.save();
        deps.logger.info(
          { incidentId, deliveryId },
          'reminder skipped: Alertmanager reports the alerts silenced, inhibited or gone',
        );
      }
    }

    const deliverer = deps.deliverers[delivery.kind];
    if (actions[0]?.kind !== 'post') await deliverer.sync(run);
    for (const action of actions) await deliverer.perform(run, action);

    // Ingest queues only the destinations of the first notification; escalated ones follow each change here.
    const extra = (flags.extraDeliveries ?? []).filter((d) => d.id !== deliveryId);
    if (
      extra.length &&
      actions.some((a) => a.kind === 'change') &&
      snapshot.deliveries.some((d) => d.id === deliveryId)
    ) {
      await deps.queue.enqueue(extra.map((d) => ({ ...job, deliveryId: d.id })));
    }

    const nextAt = nextWakeAt({ ...planInput, recheckAt: context?.recheckAt });
    if (nextAt !== undefined) await deps.queue.schedule({ ...job, acceptedAt: nextAt }, nextAt);
    return {
      status: 'done',
      actions: actions.map((a) => a.kind),
      ...(nextAt !== undefined ? { nextAt } : {}),
    };
  } finally {
    await deps.deliveries.releaseLock(groupId, incidentId, deliveryId, token).catch(() => undefined);
  }
}

/** Records an escalation once, and queues the destinations it adds. */
async function recordEscalation(
  snapshot: IncidentSnapshot,
  context: ContextOutcome,
  flags: IncidentFlags,
  deps: ReconcileDeps,
): Promise<IncidentFlags> {
  const escalation = context.escalation!;
  const known = new Set([...snapshot.deliveries, ...(flags.extraDeliveries ?? [])].map((d) => d.id));
  const added = escalatedTargets(snapshot, context, deps).filter((t) => !known.has(t.id));
  if (flags.escalation?.rule === escalation.rule && added.length === 0) return flags;
  // Jobs of an incident's deliveries run at once and each may find the escalation new. Only the one whose
  // update records it queues the others: a second round of jobs would, for a failing destination, mean a
  // second dead letter for the same delivery.
  let changed = false;
  const updated = await deps.deliveries.updateFlags(snapshot.groupId, snapshot.incidentId, (current) => {
    const ids = new Set((current.extraDeliveries ?? []).map((d) => d.id));
    const fresh = added.filter((t) => !ids.has(t.id));
    changed = current.escalation?.rule !== escalation.rule || fresh.length > 0;
    if (!changed) return current;
    return {
      ...current,
      escalation: {
        rule: escalation.rule,
        reason: escalation.reason,
        ...(escalation.severity ? { severity: escalation.severity } : {}),
      },
      extraDeliveries: [...(current.extraDeliveries ?? []), ...fresh],
    };
  });
  if (!changed) return updated;
  deps.logger.warn(
    { incidentId: snapshot.incidentId, rule: escalation.rule, added: added.map((t) => t.target) },
    'incident escalated',
  );
  // Every delivery re-renders with the escalation; the new ones post for the first time.
  const all = [...snapshot.deliveries, ...(updated.extraDeliveries ?? [])];
  await deps.queue.enqueue(
    all.map((d) => ({
      groupId: snapshot.groupId,
      incidentId: snapshot.incidentId,
      deliveryId: d.id,
      acceptedAt: Date.now(),
    })),
  );
  return updated;
}
