/**
 * What the relay says about its deliveries at info level (issue 13: "logs tell the story"), in one place:
 * one line per message sent — delivery id, channel kind, destination, action (post, update, change,
 * reminder, stale, acknowledged), outcome, latency — and one line per dead letter with its reason, which is
 * also recorded in the delivery log (outcome `dead_lettered` and an event), so the list and timeline show it.
 */
import type { DeliveryRun } from '../channels/channel.js';
import { appendEvent, type DeliveryEvent, type DeliveryOutcome } from '../domain/delivery-log.js';
import { incidentDestinations } from '../domain/destinations.js';
import type { ReconcileJobData } from '../enqueue/delivery-queue.js';
import type { Logger } from '../observability/logger.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryLocks } from '../store/delivery-locks.js';
import type { DeliveryStore } from '../store/delivery-store.js';

/** The events `work` appended: the log keeps its last 50, so they are found after the last one seen before. */
function eventsSince(
  events: readonly DeliveryEvent[],
  lastBefore: DeliveryEvent | undefined,
): DeliveryEvent[] {
  if (!lastBefore) return [...events];
  const i = events.lastIndexOf(lastBefore);
  return i === -1 ? [...events] : events.slice(i + 1);
}

/** How this destination's messages go out (delivered, or previewed to the outbox): its last send says. */
function sentOutcomeOf(events: readonly DeliveryEvent[]): DeliveryOutcome {
  return events.findLast((e) => e.outcome !== 'dead_lettered')?.outcome ?? 'delivered';
}

/**
 * Runs a deliverer step (sync or perform) and logs each message it sent, read from what it recorded: the
 * events it appended, and an update in place (Slack's chat.update records a new rendered hash, no event).
 * Logged also when the step then throws: a message sent before the throw was sent.
 */
export async function reportingSends(
  run: DeliveryRun,
  logger: Logger,
  step: () => Promise<void>,
): Promise<void> {
  const lastBefore = run.log.events.at(-1);
  const hashBefore = run.log.renderedHash;
  const started = Date.now();
  try {
    await step();
  } finally {
    const latencyMs = Date.now() - started;
    const fields = {
      incidentId: run.snapshot.incidentId,
      deliveryId: run.delivery.id,
      channel: run.delivery.kind,
      destination: run.delivery.target,
      latencyMs,
    };
    const sent = eventsSince(run.log.events, lastBefore);
    for (const event of sent)
      logger.info(
        {
          ...fields,
          action: event.action,
          outcome: event.outcome,
          ...(event.detail ? { detail: event.detail } : {}),
        },
        'message sent',
      );
    // A first post records its hash too; a root adopted after a lost answer and then synced is one message.
    const updated = run.log.renderedHash !== undefined && run.log.renderedHash !== hashBefore;
    if (updated && !sent.some((e) => e.action === 'post'))
      logger.info({ ...fields, action: 'update', outcome: sentOutcomeOf(run.log.events) }, 'message sent');
  }
}

export interface DeadLetterDeps {
  alerts: AlertStore;
  deliveries: DeliveryStore;
  locks: DeliveryLocks;
  logger: Logger;
  /** How long to wait for the delivery's lock (another job of it may be finishing). */
  lockWaitMs?: number;
}

const MAX_REASON = 300;

/**
 * A job failed for the last time: the delivery log records `dead_lettered` with the reason, under the
 * delivery's lock (a job of the same delivery writing its log meanwhile would lose its Slack ts otherwise),
 * and one line is logged. A retry from the dead letters that delivers records `delivered` again; one that
 * ran before this record (`stillFailed` says no) is not overwritten.
 */
export async function recordDeadLetter(
  job: ReconcileJobData,
  failure: { reason: string; attempts: number; stillFailed: () => Promise<boolean> },
  deps: DeadLetterDeps,
): Promise<void> {
  const { groupId, incidentId, deliveryId } = job;
  const reason = failure.reason.slice(0, MAX_REASON);
  const snapshot = await deps.alerts.loadIncident(groupId, incidentId);
  const flags = snapshot ? await deps.deliveries.loadFlags(groupId, incidentId) : undefined;
  const target = snapshot && incidentDestinations(snapshot, flags).find((d) => d.id === deliveryId);
  let recorded = false;
  if (target) {
    const lock = await waitForLock(job, deps);
    if (lock) {
      try {
        // Retried already (from the dead letters): that run's outcome stands.
        if (await failure.stillFailed()) {
          const log = await deps.deliveries.loadLog(groupId, incidentId, deliveryId);
          log.lastOutcome = 'dead_lettered';
          appendEvent(log, {
            at: Date.now(),
            action: 'dead_letter',
            outcome: 'dead_lettered',
            detail: reason,
          });
          await deps.deliveries.saveLog(groupId, incidentId, deliveryId, log);
          recorded = true;
        }
      } finally {
        await lock.release().catch(() => undefined);
      }
    }
  }
  deps.logger.error(
    {
      incidentId,
      deliveryId,
      channel: job.kind,
      destination: target?.target,
      attempts: failure.attempts,
      reason,
      ...(recorded ? {} : { recorded: false }),
    },
    'delivery dead-lettered; list with `npm run dlq -- list`, retry with `npm run dlq -- retry`',
  );
}

async function waitForLock(job: ReconcileJobData, deps: DeadLetterDeps) {
  const deadline = Date.now() + (deps.lockWaitMs ?? 5000);
  for (;;) {
    const lock = await deps.locks.holdLock(job.groupId, job.incidentId, job.deliveryId, 15_000);
    if (lock || Date.now() > deadline) return lock;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
