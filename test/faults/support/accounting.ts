/**
 * The ledger of a scenario: every notification the relay accepted (a webhook answered 2xx × each of its
 * destinations) must end delivered (seen by the fake Slack or the SMTP sink) or dead-lettered (in a failed
 * set of the delivery queues, with its reason). Anything else is lost. Duplicates are counted as users see
 * them: more than one Slack root per incident and channel, the same email (Message-ID or content) twice.
 */
import { Redis } from 'ioredis';
import { deliveryIdOf } from '../../../src/domain/model.js';
import { writeAheadKey } from '../../../src/enqueue/write-ahead.js';
import type { FakeSlack, FakeSlackMessage } from '../../support/fake-slack.js';
import { pollUntil } from '../../support/poll.js';
import type { ReceivedMail, SmtpSink } from '../../support/smtp-sink.js';
import type { Accepted } from './poster.js';

export type Destination = { kind: 'slack'; channel: string } | { kind: 'email'; to: string };

export interface DeadLetter {
  queue: string;
  jobId: string;
  incidentId: string;
  deliveryId: string;
  reason: string;
  finishedOn: number;
}

export type Outcome =
  | { kind: 'delivered'; at: number }
  | { kind: 'dead-lettered'; at: number; reason: string }
  | { kind: 'lost' };

export interface Notification {
  accepted: Accepted;
  destination: Destination;
  outcome: Outcome;
}

export interface Ledger {
  notifications: Notification[];
  delivered: number;
  deadLettered: number;
  lost: number;
  slackDuplicates: number;
  emailDuplicates: number;
  /** The most duplicate emails of any one email delivery (incident × recipient). */
  maxEmailDuplicatesPerDelivery: number;
  /** Longest time from the relay's 2xx to the notification's outcome (ms). */
  longestToOutcomeMs: number;
  deadLetters: DeadLetter[];
}

export function describeDestination(d: Destination): string {
  return d.kind === 'slack' ? `slack ${d.channel}` : `email ${d.to}`;
}

function deliveryIdOfDestination(d: Destination): string {
  return d.kind === 'slack' ? deliveryIdOf('slack', d.channel) : deliveryIdOf('email', d.to);
}

/** Top-level messages of a channel that carry the incident id (its context block and metadata name it). */
export function slackRoots(fake: FakeSlack, incidentId: string, channel: string): FakeSlackMessage[] {
  return fake
    .topLevelMessages(channel)
    .filter((m) =>
      JSON.stringify([m.attachments ?? [], m.blocks ?? [], m.metadata ?? null]).includes(incidentId),
    );
}

export function incidentMails(sink: SmtpSink, incidentId: string, to: string): ReceivedMail[] {
  return sink.messages.filter((m) => m.headers.get('x-relay-incident') === incidentId && m.to.includes(to));
}

function headerText(message: FakeSlackMessage): string {
  return JSON.stringify(message.attachments ?? message.blocks ?? []);
}

/** When the destination first showed this webhook's news, if it does. */
function deliveredAt(fake: FakeSlack, sink: SmtpSink, a: Accepted, d: Destination): number | undefined {
  const resolved = a.payload.status === 'resolved';
  if (d.kind === 'slack') {
    const roots = slackRoots(fake, a.incidentId, d.channel);
    if (!resolved) return roots.length ? Number(roots[0]!.ts) * 1000 : undefined;
    for (const root of roots) {
      if (!headerText(root).includes('RESOLVED')) continue;
      const update = fake
        .callsTo('chat.update')
        .find(
          (c) => c.body.ts === root.ts && c.response.body?.ok && JSON.stringify(c.body).includes('RESOLVED'),
        );
      // No update: the root was first posted after the resolve, already saying so.
      return update?.at ?? Number(root.ts) * 1000;
    }
    return undefined;
  }
  const mails = incidentMails(sink, a.incidentId, d.to);
  // A first mail sent after the resolve already says both ("Fired and resolved").
  const mail = resolved ? mails.find((m) => /^(Resolved|Fired and resolved)/.test(m.text ?? '')) : mails[0];
  return mail?.receivedAt;
}

/** Every failed (dead-lettered) delivery job of the relay's delivery queues (`{prefix}:deliveries*`). */
export async function readDeadLetters(redis: Redis, prefix: string): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  for (const failedKey of await redis.keys(`{${prefix}}:deliveries*:failed`)) {
    const queue = failedKey.slice(`{${prefix}}:`.length, -':failed'.length);
    for (const jobId of await redis.zrange(failedKey, '0', '-1')) {
      const [data, reason, finishedOn] = await redis.hmget(
        `{${prefix}}:${queue}:${jobId}`,
        'data',
        'failedReason',
        'finishedOn',
      );
      const parsed = JSON.parse(data ?? '{}') as { incidentId?: string; deliveryId?: string };
      letters.push({
        queue,
        jobId,
        incidentId: parsed.incidentId ?? '',
        deliveryId: parsed.deliveryId ?? '',
        reason: reason ?? '',
        finishedOn: Number(finishedOn ?? 0),
      });
    }
  }
  return letters;
}

/**
 * Jobs still to run soon in the delivery queues: waiting, active, prioritized, or delayed and due within
 * `horizonMs` (an hourly reminder far in the future does not keep a scenario open), and jobs still in the
 * write-ahead log.
 */
export async function pendingJobs(redis: Redis, prefix: string, horizonMs = 15_000): Promise<number> {
  let pending = 0;
  const queues = new Set<string>();
  for (const key of await redis.keys(`{${prefix}}:deliveries*:meta`))
    queues.add(key.slice(0, -':meta'.length));
  for (const queue of queues) {
    pending += await redis.llen(`${queue}:wait`);
    pending += await redis.llen(`${queue}:active`);
    pending += await redis.llen(`${queue}:paused`);
    pending += await redis.zcard(`${queue}:prioritized`);
    // BullMQ scores delayed jobs with (due time << 12) + a counter.
    pending += await redis.zcount(`${queue}:delayed`, 0, (Date.now() + horizonMs) * 4096);
  }
  // Stored webhooks whose jobs the write-ahead pump has not queued yet (src/enqueue/write-ahead.ts).
  pending += await redis.xlen(writeAheadKey(prefix));
  return pending;
}

function emailDuplicates(mails: ReceivedMail[]): number {
  const ids = new Set<string>();
  const contents = new Set<string>();
  let duplicates = 0;
  for (const mail of mails) {
    const content = `${mail.subject}\n${mail.text}`;
    if ((mail.messageId && ids.has(mail.messageId)) || contents.has(content)) duplicates++;
    if (mail.messageId) ids.add(mail.messageId);
    contents.add(content);
  }
  return duplicates;
}

export function account(
  accepted: Accepted[],
  destinationsOf: (a: Accepted) => Destination[],
  fake: FakeSlack,
  sink: SmtpSink,
  deadLetters: DeadLetter[],
): Ledger {
  const notifications: Notification[] = [];
  for (const a of accepted) {
    for (const destination of destinationsOf(a)) {
      const at = deliveredAt(fake, sink, a, destination);
      const letter = deadLetters.find(
        (l) => l.incidentId === a.incidentId && l.deliveryId === deliveryIdOfDestination(destination),
      );
      const outcome: Outcome =
        at !== undefined
          ? { kind: 'delivered', at }
          : letter
            ? { kind: 'dead-lettered', at: letter.finishedOn, reason: letter.reason }
            : { kind: 'lost' };
      notifications.push({ accepted: a, destination, outcome });
    }
  }
  let slackDuplicates = 0;
  let emailDups = 0;
  let maxEmailDups = 0;
  const seen = new Set<string>();
  for (const n of notifications) {
    const key = `${n.accepted.incidentId} ${describeDestination(n.destination)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (n.destination.kind === 'slack')
      slackDuplicates += Math.max(
        0,
        slackRoots(fake, n.accepted.incidentId, n.destination.channel).length - 1,
      );
    else {
      const duplicates = emailDuplicates(incidentMails(sink, n.accepted.incidentId, n.destination.to));
      emailDups += duplicates;
      maxEmailDups = Math.max(maxEmailDups, duplicates);
    }
  }
  const finished = notifications.filter((n) => n.outcome.kind !== 'lost');
  return {
    notifications,
    delivered: notifications.filter((n) => n.outcome.kind === 'delivered').length,
    deadLettered: notifications.filter((n) => n.outcome.kind === 'dead-lettered').length,
    lost: notifications.length - finished.length,
    slackDuplicates,
    emailDuplicates: emailDups,
    maxEmailDuplicatesPerDelivery: maxEmailDups,
    longestToOutcomeMs: Math.max(
      0,
      ...finished.map((n) => ('at' in n.outcome ? n.outcome.at : 0) - n.accepted.acceptedAt),
    ),
    deadLetters,
  };
}

/**
 * Waits until every accepted notification has an outcome and the queues have nothing left to run soon,
 * then returns the ledger. On timeout it returns the ledger as it stands: the scenario's assertions say
 * what is lost.
 */
export async function settle(
  options: {
    accepted: () => Accepted[];
    destinationsOf: (a: Accepted) => Destination[];
    fake: FakeSlack;
    sink: SmtpSink;
    redisUrl: string;
    prefix: string;
  },
  timeoutMs: number,
): Promise<Ledger> {
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // a scenario may restart Redis while we poll; the poll retries
  const current = async () =>
    account(
      options.accepted(),
      options.destinationsOf,
      options.fake,
      options.sink,
      await readDeadLetters(redis, options.prefix),
    );
  try {
    await pollUntil(
      async () => (await current()).lost === 0 && (await pendingJobs(redis, options.prefix)) === 0,
      timeoutMs,
      () => 'not settled',
      250,
    ).catch(() => {});
    return await current();
  } finally {
    redis.disconnect();
  }
}

/** One line per notification that is not delivered, for assertion messages. */
export function describeUndelivered(ledger: Ledger): string {
  return ledger.notifications
    .filter((n) => n.outcome.kind !== 'delivered')
    .map(
      (n) =>
        `${n.accepted.tag} (${n.accepted.incidentId}, ${n.accepted.payload.status}) → ${describeDestination(n.destination)}: ${n.outcome.kind}${n.outcome.kind === 'dead-lettered' ? ` (${n.outcome.reason})` : ''}`,
    )
    .join('\n');
}
