/**
 * Dead letters: the failed sets of the delivery queues (deliveries that failed for good, with their reason).
 * One module for everyone who lists or retries them: `npm run dlq` and the console's /dead-letters page.
 * Each kind's queue numbers its jobs on its own, so a dead letter is named `KIND/JOB_ID` (`slack/12`).
 */
import type { Job } from 'bullmq';
import type { ChannelKind } from '../domain/model.js';
import type { AlertStore } from '../store/alert-store.js';
import type { BullDeliveryQueue, ReconcileJobData } from './delivery-queue.js';

export interface DeadLetter {
  /** `KIND/JOB_ID`, the name `npm run dlq -- retry` and the console use. */
  name: string;
  kind: ChannelKind;
  incidentId: string;
  groupId: string;
  deliveryId: string;
  /** The incident's alertname, or undefined once its state expired. */
  alertname: string | undefined;
  /** The destination as configured (`#alerts-critical`, an address list), or the delivery id once expired. */
  target: string;
  failedAt: number;
  attempts: number;
  reason: string;
}

export const deadLetterName = (job: Job<ReconcileJobData>) => `${job.data.kind}/${job.id}`;

async function failedJobs(queue: BullDeliveryQueue, names: readonly string[]) {
  const failed = await queue.getJobs(['failed']);
  return names.length === 0 ? failed : failed.filter((j) => names.includes(deadLetterName(j)));
}

/** Every dead letter (or the named ones), newest failure first, with its incident and destination. */
export async function listDeadLetters(
  queue: BullDeliveryQueue,
  alerts: Pick<AlertStore, 'loadIncident'>,
  names: readonly string[] = [],
): Promise<DeadLetter[]> {
  const jobs = await failedJobs(queue, names);
  const letters = await Promise.all(
    jobs.map(async (job): Promise<DeadLetter> => {
      const snapshot = await alerts.loadIncident(job.data.groupId, job.data.incidentId);
      const delivery = snapshot?.deliveries.find((d) => d.id === job.data.deliveryId);
      return {
        name: deadLetterName(job),
        kind: job.data.kind,
        incidentId: job.data.incidentId,
        groupId: job.data.groupId,
        deliveryId: job.data.deliveryId,
        alertname: snapshot?.commonLabels.alertname,
        target: delivery?.target ?? job.data.deliveryId,
        failedAt: job.finishedOn ?? 0,
        attempts: job.attemptsMade,
        reason: job.failedReason ?? '',
      };
    }),
  );
  return letters.sort((a, b) => b.failedAt - a.failedAt);
}

/**
 * Puts the dead letters (or the named ones) back in their queue; `missing` names those not found among
 * them (already retried, or never failed). A retried job reconciles the delivery with the incident as it
 * is now (DESIGN.md §Level-triggered), so retrying twice cannot send twice.
 */
export async function retryDeadLetters(
  queue: BullDeliveryQueue,
  names: readonly string[] = [],
): Promise<{ retried: { name: string; incidentId: string }[]; missing: string[] }> {
  const jobs = await failedJobs(queue, names);
  const retried: { name: string; incidentId: string }[] = [];
  for (const job of jobs) {
    await job.retry('failed');
    retried.push({ name: deadLetterName(job), incidentId: job.data.incidentId });
  }
  const missing = names.filter((n) => !retried.some((r) => r.name === n));
  return { retried, missing };
}
