/**
 * The BullMQ workers around reconcile, one per channel kind: failure classification (DESIGN.md §Style),
 * Retry-After and pace waits that spend no attempt, exponential backoff with jitter, and dead letters that
 * are counted, recorded in the delivery log and logged (delivery-report.ts).
 */
import { DelayedError, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { PermanentDeliveryError, RateLimitedError, TransientDeliveryError } from '../channels/errors.js';
import type { Policy } from '../config/config.js';
import type { ChannelKind } from '../domain/model.js';
import {
  CHANNEL_KINDS,
  DELIVERY_QUEUES,
  queuePrefix,
  type ReconcileJobData,
} from '../enqueue/delivery-queue.js';
import type { Metrics } from '../observability/metrics.js';
import { recordDeadLetter } from './delivery-report.js';
import { type ReconcileDeps, reconcileDelivery } from './reconcile.js';

export function backoffDelay(
  attemptsMade: number,
  firstSeconds: number,
  maxSeconds: number,
  random = Math.random,
): number {
  const base = Math.min(maxSeconds, firstSeconds * 2 ** Math.max(0, attemptsMade - 1)) * 1000;
  // Full jitter on half the delay: retries of a burst spread out instead of arriving together.
  return Math.round(base / 2 + (random() * base) / 2);
}

export interface WorkerDeps extends ReconcileDeps {
  metrics: Metrics;
  connection: Redis;
  /** BullMQ's job lock and stalled-check interval (ms): how soon a dead worker's job is taken over. */
  jobLockMs?: number;
}

/** Worker slots per process for one channel kind: its own key if set, else `delivery.concurrency`. */
export function concurrencyOf(delivery: Policy['delivery'], kind: ChannelKind): number {
  return delivery[`${kind}_concurrency`] ?? delivery.concurrency;
}

/**
 * One worker per channel kind, each on its own queue with its own slots: a destination that hangs can hold
 * every slot of its kind, never those of another kind.
 */
export function startDeliveryWorkers(deps: WorkerDeps): Record<ChannelKind, Worker<ReconcileJobData>> {
  return Object.fromEntries(CHANNEL_KINDS.map((kind) => [kind, startDeliveryWorker(kind, deps)])) as Record<
    ChannelKind,
    Worker<ReconcileJobData>
  >;
}

function startDeliveryWorker(kind: ChannelKind, deps: WorkerDeps): Worker<ReconcileJobData> {
  const { policy, metrics, logger } = deps;
  const worker = new Worker<ReconcileJobData>(
    DELIVERY_QUEUES[kind],
    async (job, token) => {
      try {
        const result = await reconcileDelivery(job.data, deps);
        if (result.status === 'gone')
          logger.info({ jobId: job.id, ...job.data, reason: result.reason }, 'nothing to deliver');
        return result;
      } catch (error) {
        if (error instanceof RateLimitedError) {
          if (error.reason !== 'lock') metrics.rateLimitWaits.inc({ channel: kind });
          // The pace gate gave this job a slot of its own: sleep until exactly then. A 429 or a busy lock
          // has no slot, so spread those wake-ups a little.
          const jitter = error.reason === 'pace' ? 0 : Math.floor(Math.random() * 250);
          // Back to delayed without spending an attempt: a rate limit is not a failure.
          await job.moveToDelayed(Date.now() + error.waitMs + jitter, token);
          throw new DelayedError();
        }
        if (error instanceof PermanentDeliveryError) throw new UnrecoverableError(error.message);
        if (error instanceof TransientDeliveryError) {
          metrics.deliveryRetries.inc({ channel: kind });
          logger.warn(
            { jobId: job.id, ...job.data, attempt: job.attemptsMade + 1, reason: error.message },
            'delivery failed; will retry',
          );
        }
        throw error;
      }
    },
    {
      connection: deps.connection,
      prefix: queuePrefix(policy.redis_prefix),
      concurrency: concurrencyOf(policy.delivery, kind),
      ...(deps.jobLockMs ? { lockDuration: deps.jobLockMs, stalledInterval: deps.jobLockMs } : {}),
      settings: {
        backoffStrategy: (attemptsMade: number) =>
          backoffDelay(attemptsMade, policy.delivery.backoff, policy.delivery.max_backoff),
      },
    },
  );
  worker.on('failed', (job, error) => {
    if (!job) return;
    const final = error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (!final) return;
    metrics.deadLetters.inc({ channel: kind });
    metrics.deliveries.inc({ channel: kind, outcome: 'dead_lettered' });
    const failure = { reason: error.message, attempts: job.attemptsMade };
    recordDeadLetter(job.data, { ...failure, stillFailed: () => job.isFailed() }, deps).catch(
      (recordError: Error) =>
        logger.error(
          { ...job.data, channel: kind, ...failure, recordError: recordError.message },
          'delivery dead-lettered (not recorded in its delivery log); list with `npm run dlq -- list`',
        ),
    );
  });
  worker.on('error', (error) =>
    logger.error({ err: { message: error.message }, channel: kind }, 'worker error'),
  );
  return worker;
}
