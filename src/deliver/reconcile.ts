/**
 * Reconcile (DESIGN.md §Pipeline, stage 5): make delivery D reflect incident I. Reads the latest snapshot,
 * so a job can be collapsed, retried, reordered or run twice and the destination still converges.
 */

import type { AlertmanagerCheck } from '../alertmanager/alerts.js';
import { endSilencePause, finishResolve, resolveGone } from '../alertmanager/truth.js';
import {
  type AlertmanagerVerdict,
  isUnknown,
  reminderVerdict,
  reportsAlerts,
  silenceEnded,
} from '../alertmanager/verdict.js';
import { RateLimitedError } from '../channels/errors.js';
import type { Deliverer, DeliveryRun } from '../channels/registry.js';
import { FLAPPING_DEFAULTS, type Policy, STORM_DEFAULTS } from '../config/config.js';
import type { IncidentFlags } from '../domain/delivery-log.js';
import { effectiveDelivery, incidentDestinations } from '../domain/destinations.js';
import { describeLadderState, incidentNotices } from '../domain/ladder.js';
import type { ChannelKind, DeliveryTarget, IncidentSnapshot } from '../domain/model.js';
import { needsAlertmanager, nextWake, type PlanInput, planDelivery } from '../domain/plan.js';
import type { DeliveryQueuePort, ReconcileJobData } from '../enqueue/delivery-queue.js';
import { incidentPageUrl } from '../incidents/links.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { OnCallResolver } from '../oncall/types.js';
import { buildView } from '../render/view.js';
import { deliveriesFor, selectRoutes } from '../route/route.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryLocks } from '../store/delivery-locks.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import type { FlapStore } from '../store/flap-store.js';
import type { ContextOutcome, ContextStage } from './context-stage.js';
import { reportingSends } from './delivery-report.js';
import { advanceLadder, ladderOf, ladderWakeAt } from './escalate.js';

export interface ReconcileDeps {
  alerts: AlertStore;
  deliveries: DeliveryStore;
  locks: DeliveryLocks;
  queue: DeliveryQueuePort;
  deliverers: Record<ChannelKind, Deliverer>;
  context?: ContextStage | undefined;
  alertmanager?: AlertmanagerCheck | undefined;
  /** Counts what the Alertmanager check resolved (the worker passes its metrics). */
  metrics?: Metrics | undefined;
  policy: Policy;
  oncallEmail: string | undefined;
  logger: Logger;
  /** Who is on call, for the escalation ladder's `schedule:NAME` (src/oncall). */
  oncall?: OnCallResolver | undefined;
  /** PUBLIC_URL: a message Slack's limits force to shorten links to the whole incident there. */
  publicUrl?: string | undefined;
  now?: () => number;
  /** Flap control's episode list (issue 14): a resolve is recorded there, for "last settled at". */
  flaps?: FlapStore | undefined;
  /** TTL of the per-delivery lock (ms); how long a crashed worker's lock blocks its delivery. */
  deliveryLockMs?: number;
}

/** A scheduled run marked `check` is only the periodic Alertmanager check (see plan.ts nextWake). */
export type ReconcileRunData = ReconcileJobData & { check?: boolean };

export type ReconcileResult =
  | { status: 'done'; actions: string[]; nextAt?: number }
  | { status: 'gone'; reason: string };

/**
 * The per-delivery lock's TTL. The running job renews it every third of this, so it holds however long the
 * run takes; a worker that died stops renewing and its delivery is free again within this time.
 */
const LOCK_TTL_MS = 15_000;

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
            escalate: [],
            storm: { ...STORM_DEFAULTS },
            flapping: { ...FLAPPING_DEFAULTS },
          },
        ],
        undefined,
      ),
    );
  }
  return targets;
}

export async function reconcileDelivery(
  job: ReconcileRunData,
  deps: ReconcileDeps,
): Promise<ReconcileResult> {
  const now = (deps.now ?? Date.now)();
  const { groupId, incidentId, deliveryId } = job;
  const lock = await deps.locks.holdLock(groupId, incidentId, deliveryId, deps.deliveryLockMs ?? LOCK_TTL_MS);
  if (!lock) {
    // Another job for this delivery is running; come back shortly rather than run beside it.
    throw new RateLimitedError(1000, 'lock');
  }
  try {
    let snapshot = await deps.alerts.loadIncident(groupId, incidentId);
    if (!snapshot) return { status: 'gone', reason: 'the incident expired from Redis' };
    let flags = await deps.deliveries.loadFlags(groupId, incidentId);
    const base = incidentDestinations(snapshot, flags).find((d) => d.id === deliveryId);
    if (!base)
      return { status: 'gone', reason: `delivery ${deliveryId} is not part of incident ${incidentId}` };

    const context = deps.context ? await deps.context.describe(snapshot, now) : undefined;
    // Kept while firing only: a resolved group's context has no running budget, and the list shows the last.
    if (context?.coldChain && snapshot.status === 'firing')
      await deps.deliveries.saveColdChain(groupId, incidentId, context.coldChain);
    if (context?.escalation) flags = await recordEscalation(snapshot, context, flags, deps);
    const delivery = effectiveDelivery(base, flags);
    const log = await deps.deliveries.loadLog(groupId, incidentId, deliveryId);
    const staleAfterMs = deps.policy.delivery.stale_after * 1000;
    const alertmanagerCheckMs = deps.alertmanager
      ? deps.policy.delivery.alertmanager_check * 1000
      : undefined;
    // Alertmanager is the source of truth for "is it still firing" (DESIGN.md): ask it first, resolve what
    // it no longer reports, and end a pause whose silence it no longer applies.
    let verdict: AlertmanagerVerdict | undefined;
    let changedByAlertmanager = false;
    if (
      deps.alertmanager &&
      needsAlertmanager({ snapshot, log, flags, delivery, now, staleAfterMs, alertmanagerCheckMs })
    ) {
      verdict = await deps.alertmanager.ask(snapshot, now);
      // Undefined when the incident is no longer the group's current one: nothing to resolve then.
      const latest = await resolveGone(snapshot, verdict, flags, deliveryId, now, deps);
      if (latest) {
        changedByAlertmanager = latest.resolved > 0;
        snapshot = latest.snapshot;
      }
      if (snapshot.status === 'firing' && (flags.silencedUntil ?? 0) > now && silenceEnded(verdict)) {
        flags = await endSilencePause(snapshot, flags, deliveryId, now, deps);
        changedByAlertmanager ||= (flags.silencedUntil ?? 0) <= now;
      }
    }
    flags = await advanceLadder(snapshot, flags, deps, now);
    const ladder = ladderOf(deps.policy, snapshot, flags);
    const ladderInput = {
      steps: ladder?.escalate ?? [],
      flags,
      status: snapshot.status,
      startedAt: snapshot.startedAt,
      now,
    };
    const notices = incidentNotices(flags, snapshot.startedAt, ladder?.escalate);
    const view = buildView(snapshot, {
      now,
      flags,
      ladder: { state: describeLadderState(ladderInput), notices },
      context: context?.view,
      severity: context?.severity,
      incidentUrl: deps.publicUrl ? incidentPageUrl(deps.publicUrl, snapshot.incidentId) : undefined,
      timeZone: deps.policy.display_timezone,
    });
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
    const planInput: PlanInput = {
      snapshot,
      log,
      flags,
      delivery,
      now,
      staleAfterMs,
      alertmanagerCheckMs,
      alertmanager:
        verdict && deps.alertmanager
          ? { answered: !isUnknown(verdict), reports: reportsAlerts(verdict), urls: deps.alertmanager.urls }
          : undefined,
      notices,
    };
    let actions = planDelivery(planInput);
    if (verdict && actions.some((a) => a.kind === 'reminder')) {
      // An unreachable Alertmanager ('unknown') does not hold a reminder back: missing a page is worse.
      if (reminderVerdict(verdict) === 'suppressed') {
        actions = actions.filter((a) => a.kind !== 'reminder');
        log.reminderCheckedAt = now;
        await run.save();
        deps.logger.info(
          { incidentId, deliveryId },
          'reminder skipped: Alertmanager reports the alerts silenced, inhibited or gone',
        );
      }
    }

    if (deps.alertmanager && actions.some((a) => a.kind === 'change' && a.change.incidentResolved))
      await finishResolve(snapshot, flags, deliveryId, now, deps);

    const deliverer = deps.deliverers[delivery.kind];
    // A periodic check that changed nothing leaves the message alone: only its elapsed time would change.
    const checkOnly = job.check === true && actions.length === 0 && !changedByAlertmanager;
    if (actions[0]?.kind !== 'post' && !checkOnly)
      await reportingSends(run, deps.logger, () => deliverer.sync(run));
    for (const action of actions)
      await reportingSends(run, deps.logger, () => deliverer.perform(run, action));
    if (deps.flaps && snapshot.status === 'resolved' && actions.some((a) => a.kind === 'change'))
      await deps.flaps.recordEpisode(groupId, {
        incidentId,
        startedAt: snapshot.startedAt,
        resolvedAt: snapshot.resolvedAt ?? now,
      });

    // Ingest queues only the destinations of the first notification; escalated ones follow each change here.
    const extra = (flags.extraDeliveries ?? []).filter((d) => d.id !== deliveryId);
    if (
      extra.length &&
      actions.some((a) => a.kind === 'change') &&
      snapshot.deliveries.some((d) => d.id === deliveryId)
    ) {
      await deps.queue.enqueue(extra.map((d) => ({ ...job, deliveryId: d.id, kind: d.kind })));
    }

    // The next ladder step or acknowledgement lapse wakes every delivery of the incident; the first to run
    // takes it (advanceLadder), the others find it taken.
    const rechecks = [context?.recheckAt, ladderWakeAt(deps.policy, snapshot, flags)].filter(
      (t): t is number => t !== undefined && t > now,
    );
    const wake = nextWake({ ...planInput, recheckAt: rechecks.length ? Math.min(...rechecks) : undefined });
    const nextAt = wake?.at;
    if (wake) {
      const { check: _wasCheck, ...data } = job;
      const next: ReconcileRunData = { ...data, acceptedAt: wake.at, ...(wake.check ? { check: true } : {}) };
      await deps.queue.schedule(next, wake.at);
    }
    return {
      status: 'done',
      actions: actions.map((a) => a.kind),
      ...(nextAt !== undefined ? { nextAt } : {}),
    };
  } finally {
    await lock.release().catch(() => undefined);
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
  const known = new Set(incidentDestinations(snapshot, flags).map((d) => d.id));
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
    const notified = [...(current.escalation?.notified ?? []), ...fresh.map((t) => t.target)];
    return {
      ...current,
      escalation: {
        rule: escalation.rule,
        reason: escalation.reason,
        ...(escalation.severity ? { severity: escalation.severity } : {}),
        // Dated when the condition became true (a budget threshold's crossing), not when a job noticed it.
        at: escalation.since ?? current.escalation?.at ?? Date.now(),
        ...(notified.length ? { notified: [...new Set(notified)] } : {}),
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
  const all = incidentDestinations(snapshot, updated);
  await deps.queue.enqueue(
    all.map((d) => ({
      groupId: snapshot.groupId,
      incidentId: snapshot.incidentId,
      deliveryId: d.id,
      kind: d.kind,
      severity: escalation.severity ?? snapshot.severity,
      acceptedAt: Date.now(),
    })),
  );
  return updated;
}
