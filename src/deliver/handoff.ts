/**
 * Shift handoff digests, driven by BullMQ: one delayed job per schedule and handoff instant, its id made of
 * both, so every replica may schedule it and only one job exists (and runs); a job schedules the next
 * handoff before it sends, so a failing send (retried by BullMQ) never stops the chain, and a restart finds
 * the next handoff waiting in Redis. Which schedules take part: those with `handoff_slack` and/or a member
 * with an email address (the incoming person is mailed).
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { MailSender } from '../channels/email/sender.js';
import type { SlackSender } from '../channels/slack/sender.js';
import type { Policy } from '../config/config.js';
import { queuePrefix } from '../enqueue/delivery-queue.js';
import type { Logger } from '../observability/logger.js';
import type { OnCallMember, OnCallResolver } from '../oncall/types.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import { IncidentIndex } from '../store/incident-index.js';
import {
  buildHandoffDigest,
  type DigestIncident,
  renderDigestMail,
  renderDigestSlack,
} from './handoff-digest.js';

export const HANDOFF_QUEUE = 'handoff';

/** What the digest needs of a schedule (the `schedules:` key, src/oncall/schema.ts). */
export interface HandoffSchedule {
  handoff_slack?: string | undefined;
  handoff_always: boolean;
  members: OnCallMember[];
}

export interface HandoffJobData {
  schedule: string;
  at: number;
  /** Set once the Slack digest is posted, so a retry for the mail does not post it again. */
  slackDone?: boolean;
}

export interface HandoffDeps {
  connection: Redis;
  policy: Policy;
  schedules: Record<string, HandoffSchedule>;
  oncall: OnCallResolver;
  alerts: AlertStore;
  deliveries: DeliveryStore;
  slack: SlackSender;
  mail: MailSender;
  emailFrom: string;
  logger: Logger;
  now?: () => number;
}

export interface HandoffDigests {
  queue: Queue<HandoffJobData>;
  worker: Worker<HandoffJobData>;
  close(): Promise<void>;
}

/** Schedules whose handoff has somewhere to go. */
export function handoffSchedules(schedules: Record<string, HandoffSchedule>): string[] {
  return Object.entries(schedules)
    .filter(([, s]) => s.handoff_slack !== undefined || s.members.some((m) => m.email))
    .map(([name]) => name);
}

/** BullMQ ids may not contain ':' nor be all digits; schedule names are [\w.-]+. */
export const handoffJobId = (schedule: string, at: number) => `h-${schedule}-${at}`;

export async function startHandoffDigests(deps: HandoffDeps): Promise<HandoffDigests> {
  const now = deps.now ?? Date.now;
  const prefix = queuePrefix(deps.policy.redis_prefix);
  const queue = new Queue<HandoffJobData>(HANDOFF_QUEUE, {
    connection: deps.connection,
    prefix,
    skipWaitingForReady: true,
  });
  const index = new IncidentIndex(deps.connection, deps.policy.redis_prefix);

  const scheduleNext = async (schedule: string, after: number) => {
    const at = await deps.oncall.nextHandoff(schedule, after);
    if (at === undefined) {
      deps.logger.warn({ schedule }, 'no next handoff known for this schedule: no digest scheduled');
      return;
    }
    await queue.add(
      'digest',
      { schedule, at },
      {
        jobId: handoffJobId(schedule, at),
        delay: Math.max(0, at - now()),
        attempts: deps.policy.delivery.attempts,
        backoff: { type: 'exponential', delay: deps.policy.delivery.backoff * 1000 },
        removeOnComplete: { age: 86400, count: 1000 },
        removeOnFail: { age: deps.policy.delivery.retention, count: 1000 },
      },
    );
  };

  const openIncidents = async (): Promise<DigestIncident[]> => {
    const out: DigestIncident[] = [];
    for (const ref of await index.open()) {
      const snapshot = await deps.alerts.loadIncident(ref.groupId, ref.incidentId);
      if (snapshot?.status !== 'firing') continue;
      out.push({ snapshot, flags: await deps.deliveries.loadFlags(ref.groupId, ref.incidentId) });
    }
    return out;
  };

  const worker = new Worker<HandoffJobData>(
    HANDOFF_QUEUE,
    async (job) => {
      const { schedule, at } = job.data;
      const config = deps.schedules[schedule];
      if (!config) return 'schedule no longer configured';
      // The next one first: whatever happens to this digest, the chain of handoffs goes on.
      await scheduleNext(schedule, at);
      const answer = await deps.oncall.whoIsOnCall(schedule, at);
      const incoming = answer.ok ? answer.members : [];
      const digest = buildHandoffDigest({
        schedule,
        at,
        incoming,
        incidents: await openIncidents(),
        always: config.handoff_always,
      });
      if (!digest) return 'nothing open';
      if (config.handoff_slack && !job.data.slackDone) {
        await deps.slack.postMessage({ channel: config.handoff_slack, text: renderDigestSlack(digest) });
        await job.updateData({ ...job.data, slackDone: true });
      }
      const to = incoming.flatMap((m) => (m.email ? [m.email] : []));
      if (to.length) {
        const mail = renderDigestMail(digest);
        await deps.mail.send({
          from: deps.emailFrom,
          to,
          ...mail,
          // The same digest keeps its id on a retry, so a copy that did arrive is collapsed.
          messageId: `<relay.handoff.${schedule}.${at}@${/@([\w.-]+)>?\s*$/.exec(deps.emailFrom)?.[1] ?? 'coldchain-relay.local'}>`,
          headers: { 'Auto-Submitted': 'auto-generated' },
        });
      }
      deps.logger.info(
        {
          schedule,
          at: new Date(at).toISOString(),
          open: digest.lines.length,
          slack: config.handoff_slack,
          to,
        },
        'shift handoff digest sent',
      );
      return `${digest.lines.length} open`;
    },
    { connection: deps.connection, prefix, concurrency: 1 },
  );
  worker.on('failed', (job, error) =>
    deps.logger.error(
      { schedule: job?.data.schedule, attempts: job?.attemptsMade, reason: error.message },
      'shift handoff digest failed',
    ),
  );
  worker.on('error', (error) =>
    deps.logger.error({ err: { message: error.message } }, 'handoff worker error'),
  );

  // Every replica does this at start; the job id makes it one job per handoff.
  for (const schedule of handoffSchedules(deps.schedules)) await scheduleNext(schedule, now());

  return {
    queue,
    worker,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
