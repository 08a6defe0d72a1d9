/**
 * The silence requests of one incident, from the interaction queue (Slack's buttons and the console's form
 * go through it): pending ones, and what became of the others, in the words the Slack user was told.
 * The queue keeps finished jobs for an hour (removeOnComplete), which is how far back this looks.
 */
import type { Job, JobType } from 'bullmq';
import type { SilenceJob, SilenceOutcome } from '../channels/slack/interactions.js';

export interface SilenceRequest {
  by: string;
  from: string;
  durationMs: number;
  requestedAt: number;
  /** `pending` until the worker ran it; then its result. */
  state: 'pending' | SilenceOutcome['status'] | 'error';
  text?: string | undefined;
}

/** Jobs read per state: far more than one incident's requests within the hour they are kept. */
const SCAN = 500;

export async function silenceRequestsOf(
  queue: { getJobs(types: JobType[], start?: number, end?: number): Promise<Job<SilenceJob>[]> },
  incidentId: string,
): Promise<SilenceRequest[]> {
  const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed'], 0, SCAN - 1);
  return jobs
    .filter((job) => job.data?.incidentId === incidentId)
    .map((job): SilenceRequest => {
      const outcome = job.returnvalue as SilenceOutcome | string | null | undefined;
      const base = {
        by: job.data.by,
        from: job.data.from ?? 'Slack',
        durationMs: job.data.durationMs,
        requestedAt: job.timestamp,
      };
      if (job.failedReason) return { ...base, state: 'error', text: job.failedReason };
      if (outcome && typeof outcome === 'object')
        return { ...base, state: outcome.status, text: outcome.text };
      // Jobs finished before their result carried the answer returned the status alone.
      if (typeof outcome === 'string') return { ...base, state: outcome as SilenceOutcome['status'] };
      return { ...base, state: 'pending' };
    })
    .sort((a, b) => b.requestedAt - a.requestedAt);
}
