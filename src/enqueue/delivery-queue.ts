/**
 * The BullMQ queues of reconcile jobs, one per channel kind, each with workers of its own: a hung SMTP server
 * can hold every email slot and Slack still has all of its own. A job does not say "send this"; it says "make
 * delivery D reflect incident I" (DESIGN.md §Level-triggered), so jobs for one delivery collapse into one:
 * while one waits a new add is absorbed, and while one runs the newest add is kept and runs after it
 * (keepLastIfActive). A delivery's kind never changes, so all its jobs meet in the same queue.
 *
 * Reminders and re-checks use a second deduplication id per delivery, so scheduling one from inside a
 * running job can never overwrite a change queued behind that job; the worker's per-delivery lock keeps
 * the two from running at once.
 *
 * Jobs carry a BullMQ priority by severity, so a critical is taken before a backlog of warnings. Every job
 * has one: BullMQ takes jobs without a priority before all prioritized ones.
 */
import { type Job, type JobsOptions, type JobType, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type ChannelKind, deliveryKey, severityRank } from '../domain/model.js';

/** Queue names under the `{prefix}` BullMQ prefix; dead letters are the failed sets of these queues. */
export const DELIVERY_QUEUES: Readonly<Record<ChannelKind, string>> = {
  slack: 'deliveries-slack',
  email: 'deliveries-email',
};

export const CHANNEL_KINDS = Object.keys(DELIVERY_QUEUES) as ChannelKind[];

export interface ReconcileJobData {
  groupId: string;
  incidentId: string;
  deliveryId: string;
  /** The delivery's channel kind: which queue (and so which workers) the job belongs to. */
  kind: ChannelKind;
  /** The incident's severity when queued; sets the job's priority (critical first). */
  severity?: string;
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

/** BullMQ priority: 1 is taken first. Critical 1, warning (and unknown severities) 2, info 3. */
export function priorityOf(severity: string | undefined): number {
  const rank = severityRank(severity);
  return 4 - rank;
}

export function jobOptions(data: ReconcileJobData, options: DeliveryQueueOptions, delay = 0): JobsOptions {
  const key = deliveryKey(data.incidentId, data.deliveryId);
  return {
    delay,
    priority: priorityOf(data.severity),
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
  readonly queues: Readonly<Record<ChannelKind, Queue<ReconcileJobData>>>;

  constructor(
    connection: Redis,
    private readonly options: DeliveryQueueOptions,
  ) {
    const queueOf = (kind: ChannelKind) =>
      new Queue<ReconcileJobData>(DELIVERY_QUEUES[kind], {
        connection,
        prefix: queuePrefix(options.prefix),
        skipWaitingForReady: true,
      });
    this.queues = Object.fromEntries(CHANNEL_KINDS.map((kind) => [kind, queueOf(kind)])) as Record<
      ChannelKind,
      Queue<ReconcileJobData>
    >;
  }

  async enqueue(jobs: readonly ReconcileJobData[]): Promise<void> {
    if (jobs.length === 0) return;
    // One add per job rather than addBulk: in BullMQ 6.7 addBulk is a plain pipeline (no transaction, so
    // nothing is lost), but it builds a new ioredis Pipeline per call, copying every BullMQ script onto it,
    // and writes it as a batch of its own: about 35 µs of CPU per webhook (BENCHMARKS.md). Single adds ride
    // the connection's auto-pipeline, shared with the commands of every other webhook in flight.
    await Promise.all(
      jobs.map((data) => this.queues[data.kind].add('reconcile', data, jobOptions(data, this.options))),
    );
  }

  async schedule(job: ReconcileJobData, dueAt: number): Promise<void> {
    await this.queues[job.kind].add(
      'reconcile',
      job,
      jobOptions(job, this.options, Math.max(1, dueAt - Date.now())),
    );
  }

  /** Job counts of every kind's queue, summed per state. */
  async getJobCounts(...states: JobType[]): Promise<Record<string, number>> {
    const total: Record<string, number> = {};
    for (const counts of await Promise.all(CHANNEL_KINDS.map((k) => this.queues[k].getJobCounts(...states))))
      for (const [state, count] of Object.entries(counts)) total[state] = (total[state] ?? 0) + count;
    return total;
  }

  /** Jobs of every kind's queue in the given states (e.g. ['failed'], the dead letters). */
  async getJobs(states: JobType[]): Promise<Job<ReconcileJobData>[]> {
    return (await Promise.all(CHANNEL_KINDS.map((k) => this.queues[k].getJobs(states)))).flat();
  }

  async close(): Promise<void> {
    await Promise.all(CHANNEL_KINDS.map((k) => this.queues[k].close()));
  }
}
