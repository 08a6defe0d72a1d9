/**
 * The BullMQ worker around reconcile: failure classification (DESIGN.md §Style), Retry-After waits that
 * spend no attempt, exponential backoff with jitter, and dead letters that are counted and logged.
 */
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { DELIVERY_QUEUE, queuePrefix, type ReconcileJobData } from '../enqueue/delivery-queue.js';
import type { Metrics } from '../observability/metrics.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import { PermanentDeliveryError, RateLimitedError, TransientDeliveryError } from './errors.js';
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

async function channelOf(
  job: Job<ReconcileJobData>,
  alerts: AlertStore,
  deliveries: DeliveryStore,
): Promise<string> {
  const { groupId, incidentId, deliveryId } = job.data;
  const snapshot = await alerts.loadIncident(groupId, incidentId).catch(() => undefined);
  const found = snapshot?.deliveries.find((d) => d.id === deliveryId);
  if (found) return found.kind;
  // Destinations added by escalation live in the incident's flags, not in the snapshot.
  const flags = await deliveries.loadFlags(groupId, incidentId).catch(() => undefined);
  return flags?.extraDeliveries?.find((d) => d.id === deliveryId)?.kind ?? 'unknown';
}

export interface WorkerDeps extends ReconcileDeps {
  metrics: Metrics;
  connection: Redis;
  /** BullMQ's job lock and stalled-check interval (ms): how soon a dead worker's job is taken over. */
  jobLockMs?: number;
}

export function startDeliveryWorker(deps: WorkerDeps): Worker<ReconcileJobData> {
  const { policy, metrics, logger } = deps;
  const worker = new Worker<ReconcileJobData>(
    DELIVERY_QUEUE,
    async (job, token) => {
      try {
        const result = await reconcileDelivery(job.data, deps);
        if (result.status === 'gone')
          logger.info({ jobId: job.id, ...job.data, reason: result.reason }, 'nothing to deliver');
        return result;
      } catch (error) {
        if (error instanceof RateLimitedError) {
          if (error.reason !== 'lock') metrics.rateLimitWaits.inc({ channel: 'slack' });
          // Back to delayed without spending an attempt: a rate limit is not a failure.
          await job.moveToDelayed(Date.now() + error.waitMs + Math.floor(Math.random() * 250), token);
          throw new DelayedError();
        }
        if (error instanceof PermanentDeliveryError) throw new UnrecoverableError(error.message);
        if (error instanceof TransientDeliveryError) {
          metrics.deliveryRetries.inc({ channel: await channelOf(job, deps.alerts, deps.deliveries) });
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
      concurrency: policy.delivery.concurrency,
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
    void channelOf(job, deps.alerts, deps.deliveries).then((channel) => {
      metrics.deadLetters.inc({ channel });
      metrics.deliveries.inc({ channel, outcome: 'dead_lettered' });
      logger.error(
        { jobId: job.id, ...job.data, channel, attempts: job.attemptsMade, reason: error.message },
        'delivery dead-lettered; list with `npm run dlq -- list`, retry with `npm run dlq -- retry`',
      );
    });
  });
  worker.on('error', (error) => logger.error({ err: { message: error.message } }, 'worker error'));
  return worker;
}
