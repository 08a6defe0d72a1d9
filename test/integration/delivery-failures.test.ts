/**
 * Delivery failures, classified (DESIGN.md §What "nothing lost" means): Slack 429s are waited out per channel
 * without spending an attempt while other channels keep flowing; transient errors (HTTP 500, a timeout,
 * SMTP 450) are retried and delivered; permanent ones (channel_not_found, SMTP 550) go to the dead letters
 * (BullMQ's failed set, with the reason, counted in /metrics) and come back with a retry; invalid blocks are
 * resent as plain text. Faults are injected into the fake Slack server and the SMTP sink, so the tests here
 * run one after the other and wait for the queue to be idle in between.
 */
import type { Job } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/app/relay.js';
import { type MailSender, type OutgoingMail, SmtpMailSender } from '../../src/channels/email/sender.js';
import { PermanentDeliveryError } from '../../src/channels/errors.js';
import { deliveryIdOf } from '../../src/domain/model.js';
import type { ReconcileJobData } from '../../src/enqueue/delivery-queue.js';
import {
  CRITICAL,
  clone,
  deliveryLog,
  mailsFor,
  metricsText,
  metricValue,
  minutesAgo,
  ONCALL,
  post,
  rootsOf,
  slackTexts,
  sleep,
  startDeliveryRelay,
  startedAgo,
  startHarness,
  WARNING,
  waitForIdle,
} from '../support/delivery.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('delivery-failures');
let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;
/** Mail to these addresses is refused for good, as a 5xx from the recipient's domain would be. */
const refusedRecipients = new Set<string>();

/** The real SMTP sender, with a switch to refuse some recipients (the sink can only fail whole messages). */
class RefusingMailSender implements MailSender {
  readonly preview = false;
  constructor(private readonly real: SmtpMailSender) {}
  async send(mail: OutgoingMail): Promise<void> {
    const refused = mail.to.filter((to) => refusedRecipients.has(to));
    if (refused.length)
      throw new PermanentDeliveryError(`SMTP 550: 5.1.1 <${refused[0]}>: mailbox unavailable`);
    await this.real.send(mail);
  }
  verify(): Promise<string> {
    return this.real.verify();
  }
  close(): void {
    this.real.close();
  }
}

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  relay = await startDeliveryRelay(
    prefix,
    fake,
    sink,
    // No reminders or staleness here: every Slack call in a test is one the test caused.
    { criticalRepeat: '1h', delivery: { stale_after: 600, slack_timeout: 1.5 } },
    { mail: new RefusingMailSender(new SmtpMailSender(sink.url, 30_000)) },
  );
});

afterEach(async () => {
  await waitForIdle(relay);
  refusedRecipients.clear();
  fake.rateLimitPerChannel = undefined;
});

afterAll(async () => {
  await relay?.stop();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

const WAIT = 10_000;

async function waitUntil(
  predicate: () => Promise<boolean> | boolean,
  timeoutMs = WAIT,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

async function jobsOf(
  state: 'failed' | 'completed',
  incidentId: string,
  kind: 'slack' | 'email',
  target: string,
): Promise<Job<ReconcileJobData>[]> {
  const jobs = await relay.queue.getJobs([state]);
  const deliveryId = deliveryIdOf(kind, target);
  return jobs.filter((j) => j.data.incidentId === incidentId && j.data.deliveryId === deliveryId);
}

const postsFor = (incidentId: string) =>
  fake
    .callsTo('chat.postMessage')
    .filter((c) => JSON.stringify(c.body).includes(incidentId) && c.body.thread_ts === undefined);

describe('Slack rate limits', () => {
  it('waits out a 429 on #alerts-critical while #alerts-warning keeps flowing; nothing dropped, no attempt spent', async () => {
    const before = await metricsText(relay);
    fake.failNext('chat.postMessage', { kind: 'rateLimited', retryAfterSeconds: 1 });
    const critical = await post(relay, inGroup(fixture('firing-postgresql-down'), 'rl-critical'));
    await fake.waitFor((f) => f.calls.some((c) => c.response.status === 429), WAIT);
    const limited = fake.calls.find((c) => c.response.status === 429)!;
    expect(limited.body.channel).toBe(CRITICAL);

    const warning = await post(relay, inGroup(fixture('firing-high-cpu'), 'rl-warning'));
    await fake.waitFor(() => rootsOf(fake, warning.incidentId, WARNING).length === 1, WAIT);
    await fake.waitFor(() => rootsOf(fake, critical.incidentId, CRITICAL).length === 1, WAIT);

    const [warningPost] = postsFor(warning.incidentId).filter((c) => c.response.status === 200);
    const criticalPosts = postsFor(critical.incidentId);
    const delivered = criticalPosts.filter((c) => c.response.status === 200);
    // The other channel was not held up by the 429 (it posted before the limited one's retry) ... while the limited one waited Retry-After before trying again, and then posted exactly once.
    expect(criticalPosts).toHaveLength(2);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.at - limited.at).toBeGreaterThanOrEqual(1000 - 20);
    expect(warningPost!.at).toBeLessThan(delivered[0]!.at);

    await waitForIdle(relay);
    expect(await jobsOf('failed', critical.incidentId, 'slack', CRITICAL)).toEqual([]);
    const completed = await jobsOf('completed', critical.incidentId, 'slack', CRITICAL);
    expect(completed.length).toBeGreaterThanOrEqual(1);
    // Waiting for Retry-After is not a failed attempt: only the completing one counts, though two started.
    for (const job of completed) expect(job.attemptsMade).toBe(1);
    expect(completed.some((job) => job.attemptsStarted >= 2)).toBe(true);
    const after = await metricsText(relay);
    const delta = (name: string, labels: Record<string, string>) =>
      metricValue(after, name, labels) - metricValue(before, name, labels);
    expect(delta('relay_rate_limit_waits_total', { channel: 'slack' })).toBeGreaterThanOrEqual(1);
    expect(delta('relay_delivery_retries_total', { channel: 'slack' })).toBe(0);
    expect(delta('relay_dead_letters_total', { channel: 'slack' })).toBe(0);
    // The email of the rate-limited incident was never held up by Slack.
    expect(mailsFor(sink, critical.incidentId)).toHaveLength(1);
  });

  it("paces its own calls per channel so that Slack's limiter is never hit, posts and thread replies alike", async () => {
    // Slack allows about one message per second per channel; here 20/s (50 ms apart) against the relay's
    // 0.2 s pace. The margin is for the machine, not the relay: the pace is kept when a call is reserved, and
    // on a loaded 2-core machine a reserved call can reach the fake up to ~150 ms late, next to the one after
    // it. Unpaced, the update, the thread reply and the new post all land within a few ms and are refused.
    fake.rateLimitPerChannel = { perSecond: 20, retryAfterSeconds: 1 };
    const limitedBefore = fake.rateLimitedCount;
    const a = await post(relay, inGroup(fixture('firing-postgresql-down'), 'pace-a'));
    await fake.waitFor(() => rootsOf(fake, a.incidentId).length === 1, WAIT);
    const rootA = rootsOf(fake, a.incidentId)[0]!;
    // A resolve (update + thread reply in C0CRIT) and a new incident (post to #alerts-critical) at once.
    const [, b] = await Promise.all([
      post(relay, inGroup(fixture('resolved-postgresql-down'), 'pace-a')),
      post(relay, inGroup(fixture('firing-postgresql-down'), 'pace-b')),
    ]);
    await fake.waitFor(
      () =>
        rootsOf(fake, b.incidentId).length === 1 &&
        fake.replies(rootA.ts).some((r) => r.text?.includes('Resolved')),
      WAIT,
    );
    expect(fake.rateLimitedCount - limitedBefore).toBe(0);
  });
});

describe('permanent errors go to the dead letters, and come back with a retry', () => {
  it('channel_not_found: failed with the reason, counted in /metrics, delivered after retry', async () => {
    const before = await metricsText(relay);
    fake.failNext('chat.postMessage', { kind: 'error', error: 'channel_not_found' });
    const payload = inGroup(fixture('firing-postgresql-down'), 'dlq-slack');
    const { incidentId } = await post(relay, payload);
    await waitUntil(
      async () => (await jobsOf('failed', incidentId, 'slack', CRITICAL)).length === 1,
      WAIT,
      'the dead letter',
    );

    const [dead] = await jobsOf('failed', incidentId, 'slack', CRITICAL);
    expect(dead!.failedReason).toContain('channel_not_found');
    // Permanent: no retries were spent on it.
    expect(dead!.attemptsMade).toBe(1);
    expect(postsFor(incidentId)).toHaveLength(1);
    expect(rootsOf(fake, incidentId)).toHaveLength(0);
    // The other destination of the incident is unaffected.
    await sink.waitFor(() => mailsFor(sink, incidentId).length === 1, WAIT);

    await waitUntil(
      async () =>
        metricValue(await metricsText(relay), 'relay_dead_letters_total', { channel: 'slack' }) >
        metricValue(before, 'relay_dead_letters_total', { channel: 'slack' }),
      WAIT,
      'the dead-letter metric',
    );
    const after = await metricsText(relay);
    expect(
      metricValue(after, 'relay_dead_letters_total', { channel: 'slack' }) -
        metricValue(before, 'relay_dead_letters_total', { channel: 'slack' }),
    ).toBe(1);
    expect(
      metricValue(after, 'relay_deliveries_total', { channel: 'slack', outcome: 'dead_lettered' }) -
        metricValue(before, 'relay_deliveries_total', { channel: 'slack', outcome: 'dead_lettered' }),
    ).toBe(1);
    expect(metricValue(after, 'relay_queue_jobs', { state: 'failed' })).toBeGreaterThanOrEqual(1);

    // The fault is gone (the channel exists again): retry, as `npm run dlq -- retry` does.
    await dead!.retry('failed');
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await waitForIdle(relay);
    expect(await jobsOf('failed', incidentId, 'slack', CRITICAL)).toEqual([]);
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
    const log = await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL);
    expect(log.root?.ts).toBe(rootsOf(fake, incidentId)[0]!.ts);
    expect(log.lastOutcome).toBe('delivered');
  });

  it('a dead letter does not block the delivery: the next webhook of the incident is delivered', async () => {
    fake.failNext('chat.postMessage', { kind: 'error', error: 'not_in_channel' });
    const { incidentId } = await post(relay, inGroup(fixture('firing-postgresql-down'), 'dlq-then-resolve'));
    await waitUntil(
      async () => (await jobsOf('failed', incidentId, 'slack', CRITICAL)).length === 1,
      WAIT,
      'the dead letter',
    );
    // The bot was invited back; Alertmanager's resolve arrives before anyone retried the dead letter.
    await post(relay, inGroup(fixture('resolved-postgresql-down'), 'dlq-then-resolve'));
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await fake.waitFor(() => rootsOf(fake, incidentId)[0]!.text?.includes('RESOLVED') === true, WAIT);
    await waitForIdle(relay);
    // Retrying the dead letter afterwards changes nothing: the destination already reflects the incident.
    const [dead] = await jobsOf('failed', incidentId, 'slack', CRITICAL);
    await dead!.retry('failed');
    await waitForIdle(relay);
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
    expect(fake.replies(rootsOf(fake, incidentId)[0]!.ts)).toEqual([]);
  });

  it('SMTP 550: failed with the reason, counted as email, delivered after retry with the same Message-ID', async () => {
    const before = await metricsText(relay);
    sink.failNext({ code: 550 });
    const { incidentId } = await post(relay, inGroup(fixture('firing-postgresql-down'), 'dlq-mail'));
    await waitUntil(
      async () => (await jobsOf('failed', incidentId, 'email', ONCALL)).length === 1,
      WAIT,
      'the dead letter',
    );
    const [dead] = await jobsOf('failed', incidentId, 'email', ONCALL);
    expect(dead!.failedReason).toMatch(/SMTP 550/);
    expect(dead!.attemptsMade).toBe(1);
    expect(mailsFor(sink, incidentId)).toHaveLength(0);
    const refused = sink.rejected.filter((m) => m.headers.get('x-relay-incident') === incidentId);
    expect(refused).toHaveLength(1);
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await waitUntil(
      async () =>
        metricValue(await metricsText(relay), 'relay_dead_letters_total', { channel: 'email' }) -
          metricValue(before, 'relay_dead_letters_total', { channel: 'email' }) ===
        1,
      WAIT,
      'the email dead-letter metric',
    );

    await dead!.retry('failed');
    await sink.waitFor(() => mailsFor(sink, incidentId).length === 1, WAIT);
    const mail = mailsFor(sink, incidentId)[0]!;
    expect(mail.subject).toBe('[CRITICAL] PostgreSQLDown · postgresql');
    expect(mail.messageId).toBe(refused[0]!.messageId);
  });

  it('counts a dead letter of an escalation destination under its channel (email), not "unknown"', async () => {
    // A chilled-pharma shipment 2 h into its 30 min excursion budget: the catalog's escalation adds the QA
    // list, which refuses mail for good here.
    refusedRecipients.add('qa@coldchain.example');
    const before = await metricsText(relay);
    const { incidentId } = await post(
      relay,
      startedAgo(inGroup(fixture('firing-reefer-excursion'), 'dlq-escalation'), minutesAgo(120)),
    );
    await sink.waitFor(() => mailsFor(sink, incidentId).length === 1, WAIT);
    await waitUntil(
      async () => (await relay.queue.getJobs(['failed'])).some((j) => j.data.incidentId === incidentId),
      WAIT,
      'the escalation dead letter',
    );
    await waitForIdle(relay);
    const failed = (await relay.queue.getJobs(['failed'])).filter((j) => j.data.incidentId === incidentId);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.failedReason).toContain('qa@coldchain.example');
    await sleep(100);
    const after = await metricsText(relay);
    expect(
      metricValue(after, 'relay_dead_letters_total', { channel: 'email' }) -
        metricValue(before, 'relay_dead_letters_total', { channel: 'email' }),
    ).toBe(1);
    expect(
      metricValue(after, 'relay_dead_letters_total', { channel: 'unknown' }) -
        metricValue(before, 'relay_dead_letters_total', { channel: 'unknown' }),
    ).toBe(0);
  });
});

describe('transient errors are retried and delivered once', () => {
  it('Slack HTTP 500 and SMTP 450', async () => {
    const before = await metricsText(relay);
    fake.failNext('chat.postMessage', { kind: 'http', status: 500 });
    sink.failNext({ code: 450 });
    const { incidentId } = await post(relay, inGroup(fixture('firing-postgresql-down'), 'transient'));
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await sink.waitFor(() => mailsFor(sink, incidentId).length === 1, WAIT);
    await waitForIdle(relay);

    expect(postsFor(incidentId).map((c) => c.response.status)).toEqual([500, 200]);
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
    const refused = sink.rejected.filter((m) => m.headers.get('x-relay-incident') === incidentId);
    expect(refused.map((m) => m.rejectedWith.code)).toEqual([450]);
    expect(mailsFor(sink, incidentId)[0]!.messageId).toBe(refused[0]!.messageId);
    expect(await jobsOf('failed', incidentId, 'slack', CRITICAL)).toEqual([]);
    expect(await jobsOf('failed', incidentId, 'email', ONCALL)).toEqual([]);
    const after = await metricsText(relay);
    for (const channel of ['slack', 'email']) {
      expect(
        metricValue(after, 'relay_delivery_retries_total', { channel }) -
          metricValue(before, 'relay_delivery_retries_total', { channel }),
      ).toBe(1);
      expect(
        metricValue(after, 'relay_dead_letters_total', { channel }) -
          metricValue(before, 'relay_dead_letters_total', { channel }),
      ).toBe(0);
    }
    // A 500 is an answer: nothing was posted, so no possible duplicate is counted.
    expect(
      metricValue(after, 'relay_duplicate_posts_total', { channel: 'slack' }) -
        metricValue(before, 'relay_duplicate_posts_total', { channel: 'slack' }),
    ).toBe(0);
  });

  it('an outage longer than the attempts ends in the dead letters with the last reason, never in silence', async () => {
    const before = await metricsText(relay);
    fake.failNext('chat.postMessage', { kind: 'http', status: 503 }, 3);
    const { incidentId } = await post(relay, inGroup(fixture('firing-postgresql-down'), 'outage'));
    await waitUntil(
      async () => (await jobsOf('failed', incidentId, 'slack', CRITICAL)).length === 1,
      WAIT,
      'the dead letter',
    );
    const [dead] = await jobsOf('failed', incidentId, 'slack', CRITICAL);
    expect(dead!.attemptsMade).toBe(3);
    expect(dead!.failedReason).toContain('HTTP 503');
    expect(postsFor(incidentId).map((c) => c.response.status)).toEqual([503, 503, 503]);
    await waitUntil(
      async () =>
        metricValue(await metricsText(relay), 'relay_dead_letters_total', { channel: 'slack' }) -
          metricValue(before, 'relay_dead_letters_total', { channel: 'slack' }) ===
        1,
      WAIT,
      'the dead-letter metric',
    );
    const after = await metricsText(relay);
    expect(
      metricValue(after, 'relay_delivery_retries_total', { channel: 'slack' }) -
        metricValue(before, 'relay_delivery_retries_total', { channel: 'slack' }),
    ).toBe(3);
    await dead!.retry('failed');
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
  });

  it('a Slack post that times out is looked up, then retried: one message, no duplicate counted', async () => {
    const before = await metricsText(relay);
    fake.failNext('chat.postMessage', { kind: 'timeout' });
    const { incidentId } = await post(relay, inGroup(fixture('firing-postgresql-down'), 'timeout'));
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await waitForIdle(relay);
    expect(postsFor(incidentId).map((c) => c.response.status)).toEqual([0, 200]);
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
    // The held post was never committed: the look-up in the channel's history found nothing to adopt.
    expect(fake.callsTo('conversations.history').length).toBeGreaterThanOrEqual(1);
    const after = await metricsText(relay);
    expect(
      metricValue(after, 'relay_duplicate_posts_total', { channel: 'slack' }) -
        metricValue(before, 'relay_duplicate_posts_total', { channel: 'slack' }),
    ).toBe(0);
  });
});

describe('Slack refuses the blocks', () => {
  it('invalid_blocks on the first post: resent as plain text; later updates and replies address it', async () => {
    fake.failNext('chat.postMessage', { kind: 'error', error: 'invalid_blocks' });
    const payload = inGroup(fixture('firing-postgresql-down'), 'blocks');
    const { incidentId } = await post(relay, payload);
    await waitUntil(
      async () => (await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL)).root?.ts !== undefined,
      WAIT,
      'the root',
    );
    await waitForIdle(relay);
    const log = await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL);
    const root = fake.messages.get(log.root!.ts!)!;
    expect(root.channel).toBe('C0CRIT');
    expect(root.attachments).toBeUndefined();
    expect(root.blocks).toBeUndefined();
    expect(root.text).toContain('🔴 CRITICAL PostgreSQLDown · postgresql');
    expect(root.text).toContain('PostgreSQL is down');
    expect(
      fake
        .topLevelMessages(CRITICAL)
        .filter(
          (m) =>
            m.text?.includes('PostgreSQLDown · postgresql') &&
            m.ts !== root.ts &&
            JSON.stringify(m.attachments ?? []).includes(incidentId),
        ),
    ).toEqual([]);
    const posts = fake
      .callsTo('chat.postMessage')
      .filter(
        (c) =>
          c.body.channel === CRITICAL &&
          c.at >= fake.calls.find((x) => x.response.body?.error === 'invalid_blocks')!.at,
      );
    expect(posts.map((c) => c.response.body?.error ?? 'ok')).toEqual(['invalid_blocks', 'ok']);

    // Later updates and replies still work against the plain-text root.
    await post(relay, inGroup(fixture('resolved-postgresql-down'), 'blocks'));
    await fake.waitFor(() => fake.replies(root.ts).some((r) => r.text?.includes('Resolved after')), WAIT);
    await fake.waitFor(() => slackTexts(fake.messages.get(root.ts)!).join('\n').includes('RESOLVED'), WAIT);
  });

  it('invalid_blocks on an update: the plain text replaces the whole message, leaving no stale "firing" blocks', async () => {
    const payload = inGroup(fixture('firing-postgresql-down'), 'blocks-update');
    const { incidentId } = await post(relay, payload);
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await waitForIdle(relay);
    const ts = rootsOf(fake, incidentId)[0]!.ts;
    fake.failNext('chat.update', { kind: 'error', error: 'invalid_blocks' });
    await post(relay, inGroup(fixture('resolved-postgresql-down'), 'blocks-update'));
    await fake.waitFor(() => fake.replies(ts).some((r) => r.text?.includes('Resolved after')), WAIT);
    await waitForIdle(relay);
    const updates = fake.callsTo('chat.update').filter((c) => c.body.ts === ts);
    expect(updates.map((c) => c.response.body?.error ?? 'ok')).toEqual(['invalid_blocks', 'ok']);
    const root = fake.messages.get(ts)!;
    expect(root.text).toContain('✅ RESOLVED (was CRITICAL) PostgreSQLDown');
    // Slack keeps the fields an update omits: the firing attachment must be cleared, not left in place.
    const shown = slackTexts(root).join('\n');
    expect(shown).not.toContain('🔴 CRITICAL');
    expect(shown).not.toContain('Firing since');
  });

  it('an update after a plain-text root keeps a consistent message when the blocks are accepted again', async () => {
    fake.failNext('chat.postMessage', { kind: 'error', error: 'invalid_blocks' });
    const payload = clone(inGroup(fixture('group-first-replica-a'), 'blocks-then-ok'));
    const first = { ...payload, alerts: payload.alerts.slice(0, 1) };
    const { incidentId } = await post(relay, first);
    await waitUntil(
      async () => (await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL)).root?.ts !== undefined,
      WAIT,
      'the root',
    );
    const ts = (await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL)).root!.ts!;
    await post(relay, payload);
    await fake.waitFor(() => fake.replies(ts).some((r) => r.text?.includes('TRK-0077')), WAIT);
    await fake.waitFor(() => fake.messages.get(ts)!.updates >= 1, WAIT);
    const root = fake.messages.get(ts)!;
    expect(slackTexts(root).join('\n')).toContain('2 firing');
    expect(root.text).not.toContain('1 firing');
  });
});
