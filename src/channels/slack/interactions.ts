/**
 * Silences requested from Slack go through the queue: Alertmanager may take longer than Slack's 3-second
 * window, so the API answers at once and a worker creates the silence, then tells the user through the
 * interaction's response_url (an ephemeral message) whether it worked.
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { IncidentRef } from '../../ack/acknowledge.js';
import {
  type SilenceDeps,
  type SilenceResult,
  type SilenceSource,
  silenceIncident,
} from '../../alertmanager/silences.js';
import { queuePrefix } from '../../enqueue/delivery-queue.js';
import type { Logger } from '../../observability/logger.js';
import { formatTime } from '../../render/describe.js';

export const INTERACTION_QUEUE = 'interactions';

export interface SilenceJob extends IncidentRef {
  durationMs: number;
  by: string;
  responseUrl?: string | undefined;
  /** Slack unless said otherwise (jobs queued before the console existed carry none). */
  from?: SilenceSource | undefined;
}

export interface InteractionQueue {
  enqueueSilence(job: SilenceJob): Promise<void>;
  /**
   * True the first time a click is seen: Slack retries a request it thinks timed out, and the same click
   * must not act twice. The key names the user, the action, its timestamp and the incident.
   */
  firstClick(click: {
    userId: string;
    actionId: string;
    actionTs: string;
    incidentId: string;
  }): Promise<boolean>;
}

export class BullInteractionQueue implements InteractionQueue {
  readonly queue: Queue<SilenceJob>;

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {
    this.queue = new Queue<SilenceJob>(INTERACTION_QUEUE, {
      connection,
      prefix: queuePrefix(prefix),
      skipWaitingForReady: true,
    });
  }

  async enqueueSilence(job: SilenceJob): Promise<void> {
    await this.queue.add('silence', job, {
      attempts: 1,
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 7 * 86400 },
    });
  }

  async firstClick(click: { userId: string; actionId: string; actionTs: string; incidentId: string }) {
    const key = `${this.prefix}:interaction:${click.userId}:${click.actionId}:${click.actionTs}:${click.incidentId}`;
    return (await this.connection.set(key, '1', 'EX', 600, 'NX')) === 'OK';
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/**
 * response_url comes inside a Slack-signed payload; it is still only followed to Slack itself (or the
 * configured Slack API origin, which tests point at their fake server).
 */
export function allowedResponseUrl(url: string | undefined, slackApiUrl: string): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'https:' && parsed.hostname === 'hooks.slack.com') return url;
    return parsed.origin === new URL(slackApiUrl).origin ? url : undefined;
  } catch {
    return undefined;
  }
}

/** A silence job's result: its status and what the person who asked is told. */
export interface SilenceOutcome {
  status: SilenceResult['status'];
  text: string;
}

export function silenceAnswer(result: SilenceResult, timeZone?: string): string {
  switch (result.status) {
    case 'silenced':
      return (
        `Silenced until ${formatTime(result.flags.silencedUntil ?? Date.now(), timeZone, Date.now())} on ${result.created.length} Alertmanager(s)` +
        `${result.errors.length ? `; refused by: ${result.errors.join('; ')}` : ''}.`
      );
    case 'failed':
      return `Could not silence: ${result.reason}. Nothing was changed.`;
    default:
      return `Nothing to silence: the incident is ${result.status === 'resolved' ? 'already resolved' : 'no longer known'}.`;
  }
}

export function startInteractionWorker(
  deps: SilenceDeps & {
    connection: Redis;
    prefix: string;
    slackApiUrl: string;
    logger: Logger;
    /** The policy's display_timezone, for the time a silence ends. */
    timeZone?: string | undefined;
  },
): Worker<SilenceJob, SilenceOutcome> {
  const tell = async (responseUrl: string | undefined, text: string) => {
    const url = allowedResponseUrl(responseUrl, deps.slackApiUrl);
    if (!url) return;
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
      signal: AbortSignal.timeout(5000),
    }).catch((error: unknown) =>
      deps.logger.warn({ err: { message: (error as Error).message } }, 'could not answer the Slack user'),
    );
  };
  const worker = new Worker<SilenceJob, SilenceOutcome>(
    INTERACTION_QUEUE,
    async (job) => {
      const { durationMs, by, responseUrl } = job.data;
      const from = job.data.from ?? 'Slack';
      const result = await silenceIncident(job.data, durationMs, by, deps, Date.now(), from);
      deps.logger.info(
        { incidentId: job.data.incidentId, status: result.status, by },
        `silence from ${from}`,
      );
      // What the clicker is told is also the job's result, so the console shows the same words.
      const text = silenceAnswer(result, deps.timeZone);
      await tell(responseUrl, text);
      return { status: result.status, text };
    },
    { connection: deps.connection, prefix: queuePrefix(deps.prefix), concurrency: 4 },
  );
  worker.on('error', (error) =>
    deps.logger.error({ err: { message: error.message } }, 'interaction worker error'),
  );
  return worker;
}
