/**
 * The BullMQ queue of reconcile jobs. A job does not say "send this"; it says "make delivery D reflect
 * incident I" (DESIGN.md §Level-triggered), so jobs for one delivery collapse into one: while one waits a
 * new add is absorbed, and while one runs the newest add is kept and runs after it (keepLastIfActive).
 *
 * Reminders and re-checks use a second deduplication id per delivery, so scheduling one from inside a
 * running job can never overwrite a change queued behind that job; the worker's per-delivery lock keeps
 * the two from running at once.
 */
import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { deliveryKey } from '../model.js';

export const DELIVERY_QUEUE = 'deliveries';

export interface ReconcileJobData {
  groupId: string;
  incidentId: string;
  deliveryId: string;
  /** When the webhook that caused this job was accepted (ms), for the delivery latency metric. */
  acceptedAt: number;
}

export interface DeliveryQueuePort {
  enqueue(jobs: readonly ReconcileJobData[]): Promise<void>;
  /** A reminder or re-check for one delivery, due at `dueAt` (ms). */
  schedule(job: ReconcileJobData, dueAt: number): Promise<void>;
}

export interface DeliveryQueueOptions {
  /** Redis key prefix of the queue; wrapped in a hash tag so the whole queue stays on one Cluster slot. */
  prefix: string;
  attempts: number;
  retentionSeconds: number;
}

export function queuePrefix(prefix: string): string {
  return `{${prefix}}`;
}

export function jobOptions(data: ReconcileJobData, options: DeliveryQueueOptions, delay = 0): JobsOptions {
  const key = deliveryKey(data.incidentId, data.deliveryId);
  return {
    delay,
    // A later schedule replaces an earlier delayed one: the newest due time is the one the planner wants.
    deduplication: { id: delay > 0 ? `r${key}` : key, replace: delay > 0, keepLastIfActive: true },
    attempts: options.attempts,
    backoff: { type: 'relay' },
    // Finished jobs are removed by age and count so Redis memory stays bounded; failed ones are the dead
    // letters and are kept as long as incidents are.
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: options.retentionSeconds, count: 100_000 },
  };
}

export class BullDeliveryQueue implements DeliveryQueuePort {
  readonly queue: Queue<ReconcileJobData>;

  constructor(
    connection: Redis,
    private readonly options: DeliveryQueueOptions,
  ) {
    this.queue = new Queue<ReconcileJobData>(DELIVERY_QUEUE, {
      connection,
      prefix: queuePrefix(options.prefix),
      skipWaitingForReady: true,
    });
  }

  async enqueue(jobs: readonly ReconcileJobData[]): Promise<void> {
    if (jobs.length === 0) return;
    // One add per job rather than addBulk: in BullMQ 6.7 addBulk is a plain pipeline (no transaction, so
    // nothing is lost), but it builds a new ioredis Pipeline per call, copying every BullMQ script onto it,
    // and writes it as a batch of its own: about 35 µs of CPU per webhook (BENCHMARKS.md). Single adds ride
    // the connection's auto-pipeline, shared with the commands of every other webhook in flight.
    await Promise.all(jobs.map((data) => this.queue.add('reconcile', data, jobOptions(data, this.options))));
  }

  async schedule(job: ReconcileJobData, dueAt: number): Promise<void> {
    await this.queue.add('reconcile', job, jobOptions(job, this.options, Math.max(1, dueAt - Date.now())));
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
