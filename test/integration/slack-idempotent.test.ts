/**
 * No duplicate Slack roots when a post's outcome is unknown (issue 9, items 2 and 9). A root post carries
 * message metadata naming its incident and delivery; before posting again after an attempt that may have
 * reached Slack (a timeout after sending, a reset after sending), the relay looks in the channel's history
 * and adopts the message it finds. A copy Slack commits after that look is deleted and counted. A request
 * that never left (connection refused) is not ambiguous and causes no look-up. Without the history scopes
 * the relay warns, counts, and posts: it never dead-letters for it.
 *
 * The faults are injected into the fake Slack server: `lateAnswer` commits the post and answers after a
 * minute, far beyond the relay's 5 s slack_timeout (long enough that a healthy call on a loaded machine
 * never hits it); `lateCommit` holds the post and commits it only after the relay's next post.
 */
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/app/relay.js';
import { TransientDeliveryError } from '../../src/channels/errors.js';
import {
  type SlackMessage,
  type SlackPosted,
  type SlackSender,
  WebApiSlackSender,
} from '../../src/channels/slack/sender.js';
import { deliveryIdOf } from '../../src/domain/model.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  CRITICAL,
  deliveryLog,
  metricsText,
  metricValue,
  post,
  rootsOf,
  slackTexts,
  startDeliveryRelay,
  startHarness,
  waitForIdle,
} from '../support/delivery.js';
import { DEFAULT_SLACK_TOKEN, type FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefixes: string[] = [];
let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;
const extraRelays: RunningRelay[] = [];
// No reminders or staleness: every Slack call in a test is one the test caused.
const POLICY = { criticalRepeat: '1h', delivery: { stale_after: 600, slack_timeout: 5 } };
const WAIT = 30_000;
/** A test waits for up to two WAITs (the outcome, then the queue to settle). */
const TEST_TIMEOUT = 2 * WAIT + 10_000;
/** Far beyond slack_timeout: Slack answers long after the relay gave up. */
const LATE_ANSWER_MS = 60_000;

function newPrefix(name: string): string {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  return prefix;
}

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  relay = await startDeliveryRelay(newPrefix('slack-idempotent'), fake, sink, POLICY);
});

afterEach(async () => {
  await waitForIdle(relay);
  fake.reset();
});

afterAll(async () => {
  for (const r of [relay, ...extraRelays]) await r?.stop();
  await fake?.close();
  await sink?.close();
  for (const prefix of prefixes) await deletePrefix(prefix);
});

/**
 * No job waiting, running, or delayed for the next half minute (reminders are an hour away). The delayed
 * set is read first: a job promoted between the two reads then shows as waiting or active, never as neither.
 */
async function metricDelta(r: RunningRelay, before: string, name: string, labels: Record<string, string>) {
  return metricValue(await metricsText(r), name, labels) - metricValue(before, name, labels);
}

const rootPostsFor = (incidentId: string) =>
  fake
    .callsTo('chat.postMessage')
    .filter((c) => JSON.stringify(c.body).includes(incidentId) && c.body.thread_ts === undefined);

const DUPLICATES = 'relay_duplicate_posts_total';
const ADOPTED = 'relay_slack_messages_adopted_total';
const DELETED = 'relay_slack_duplicates_deleted_total';

describe('a root post whose answer is lost', { timeout: TEST_TIMEOUT }, () => {
  it('Slack commits the post but answers after the timeout: the retry adopts it; one root, resolved in place', async () => {
    const before = await metricsText(relay);
    fake.failNext('chat.postMessage', { kind: 'lateAnswer', afterMs: LATE_ANSWER_MS });
    const payload = inGroup(fixture('firing-postgresql-down'), 'late-answer');
    const { incidentId } = await post(relay, payload);
    await pollUntil(
      async () => (await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL)).root?.ts !== undefined,
      WAIT,
      () => 'the root to be recorded',
    );
    await waitForIdle(relay);

    const roots = rootsOf(fake, incidentId);
    expect(roots).toHaveLength(1);
    expect(rootPostsFor(incidentId)).toHaveLength(1);
    const log = await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL);
    expect(log.root).toMatchObject({ channel: 'C0CRIT', ts: roots[0]!.ts });
    expect(log.inFlight).toBeUndefined();
    // The root names its incident and delivery in Slack message metadata; the look-up asked for it.
    expect(roots[0]!.metadata).toEqual({
      event_type: 'relay_incident',
      event_payload: { incident_id: incidentId, delivery_id: deliveryIdOf('slack', CRITICAL) },
    });
    const lookups = fake.callsTo('conversations.history');
    expect(lookups.length).toBeGreaterThanOrEqual(1);
    expect(lookups[0]!.body).toMatchObject({ channel: 'C0CRIT', include_all_metadata: 'true' });
    expect(await metricDelta(relay, before, ADOPTED, { kind: 'root' })).toBe(1);
    expect(await metricDelta(relay, before, DUPLICATES, { channel: 'slack' })).toBe(0);

    // The adopted root is the one later updates go to.
    await post(relay, inGroup(fixture('resolved-postgresql-down'), 'late-answer'));
    await fake.waitFor(
      () => fake.replies(roots[0]!.ts).some((r) => r.text?.includes('Resolved after')),
      WAIT,
    );
    await fake.waitFor(
      () => slackTexts(fake.messages.get(roots[0]!.ts)!).join('\n').includes('RESOLVED'),
      WAIT,
    );
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
  });

  it('the connection is reset after Slack committed the post: adopted, one root', async () => {
    const before = await metricsText(relay);
    fake.failNext('chat.postMessage', { kind: 'reset', commit: true });
    const payload = inGroup(fixture('firing-postgresql-down'), 'reset-after-commit');
    const { incidentId } = await post(relay, payload);
    await pollUntil(
      async () => (await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL)).root?.ts !== undefined,
      WAIT,
      () => 'the root to be recorded',
    );
    await waitForIdle(relay);
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
    expect(rootPostsFor(incidentId)).toHaveLength(1);
    expect(await metricDelta(relay, before, ADOPTED, { kind: 'root' })).toBe(1);
    expect(await metricDelta(relay, before, DUPLICATES, { channel: 'slack' })).toBe(0);
  });

  it('the bot posts to a public channel it is not a member of: it joins to look, and adopts the root', async () => {
    const before = await metricsText(relay);
    fake.members.delete('C0CRIT');
    fake.failNext('chat.postMessage', { kind: 'lateAnswer', afterMs: LATE_ANSWER_MS });
    const payload = inGroup(fixture('firing-postgresql-down'), 'join-to-look');
    const { incidentId } = await post(relay, payload);
    await pollUntil(
      async () => (await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL)).root?.ts !== undefined,
      WAIT,
      () => 'the root to be recorded',
    );
    await waitForIdle(relay);
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
    expect(fake.callsTo('conversations.join').map((c) => c.body.channel)).toEqual(['C0CRIT']);
    expect(fake.members.has('C0CRIT')).toBe(true);
    expect(await metricDelta(relay, before, ADOPTED, { kind: 'root' })).toBe(1);
    expect(
      await metricDelta(relay, before, 'relay_slack_lookup_unavailable_total', { reason: 'not_in_channel' }),
    ).toBe(0);
  });

  it('a thread reply whose answer is lost is found in the thread, not posted again', async () => {
    const payload = inGroup(fixture('firing-postgresql-down'), 'reply-late-answer');
    const { incidentId } = await post(relay, payload);
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await waitForIdle(relay);
    const root = rootsOf(fake, incidentId)[0]!;
    const before = await metricsText(relay);
    // The next post is the resolve reply (the root itself is updated with chat.update).
    fake.failNext('chat.postMessage', { kind: 'lateAnswer', afterMs: LATE_ANSWER_MS });
    await post(relay, inGroup(fixture('resolved-postgresql-down'), 'reply-late-answer'));
    await fake.waitFor(() => slackTexts(fake.messages.get(root.ts)!).join('\n').includes('RESOLVED'), WAIT);
    await waitForIdle(relay);

    const resolveReplies = fake.replies(root.ts).filter((m) => m.text?.includes('Resolved after'));
    expect(resolveReplies).toHaveLength(1);
    expect(resolveReplies[0]!.metadata).toMatchObject({
      event_type: 'relay_reply',
      event_payload: { incident_id: incidentId, delivery_id: deliveryIdOf('slack', CRITICAL) },
    });
    expect(fake.callsTo('conversations.replies').map((c) => c.body.ts)).toContain(root.ts);
    const log = await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL);
    expect(log.inFlight).toBeUndefined();
    expect(log.told?.status).toBe('resolved');
    expect(await metricDelta(relay, before, ADOPTED, { kind: 'reply' })).toBe(1);
    expect(await metricDelta(relay, before, DUPLICATES, { channel: 'slack' })).toBe(0);
  });

  it('Slack commits the first post only after the retry posted: the late copy is deleted and counted', async () => {
    const before = await metricsText(relay);
    fake.failNext('chat.postMessage', { kind: 'lateCommit' });
    const payload = inGroup(fixture('firing-postgresql-down'), 'late-commit');
    const { incidentId } = await post(relay, payload);
    // The retry found nothing, posted, and Slack then committed the first attempt too.
    await fake.waitFor(() => fake.deleted.length === 1, WAIT);
    await waitForIdle(relay);

    const log = await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL);
    const roots = rootsOf(fake, incidentId);
    expect(roots.map((m) => m.ts)).toEqual([log.root!.ts]);
    const [deleted] = fake.deleted;
    // The later copy went, the recorded root stayed.
    expect(Number(deleted!.ts)).toBeGreaterThan(Number(log.root!.ts));
    expect(JSON.stringify(deleted!.metadata)).toContain(incidentId);
    expect(fake.callsTo('chat.delete').map((c) => c.body)).toEqual([
      expect.objectContaining({ channel: 'C0CRIT', ts: deleted!.ts }),
    ]);
    expect(await metricDelta(relay, before, DUPLICATES, { channel: 'slack' })).toBe(1);
    expect(await metricDelta(relay, before, DELETED, {})).toBe(1);
    expect(await metricDelta(relay, before, ADOPTED, { kind: 'root' })).toBe(0);
  });
});

/** Refuses the first root post with a real ECONNREFUSED (a closed port); everything else goes to the fake. */
class RefusedOnceSlackSender implements SlackSender {
  readonly preview = false;
  refused = 0;
  constructor(
    private readonly real: WebApiSlackSender,
    private readonly closed: WebApiSlackSender,
  ) {}
  get lookup() {
    return this.real.lookup;
  }
  async postMessage(message: SlackMessage): Promise<SlackPosted> {
    if (this.refused === 0 && !message.thread_ts) {
      this.refused++;
      return this.closed.postMessage(message);
    }
    return this.real.postMessage(message);
  }
  update(message: SlackMessage & { ts: string }): Promise<void> {
    return this.real.update(message);
  }
  verify(): Promise<string> {
    return this.real.verify();
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('a request that never reached Slack', { timeout: TEST_TIMEOUT }, () => {
  it('ECONNREFUSED is retried without a look-up and not counted as a duplicate', async () => {
    const port = await closedPort();
    const sender = new RefusedOnceSlackSender(
      new WebApiSlackSender(DEFAULT_SLACK_TOKEN, fake.url, 5000),
      new WebApiSlackSender(DEFAULT_SLACK_TOKEN, `http://127.0.0.1:${port}/api/`, 5000),
    );
    const refusing = await startDeliveryRelay(newPrefix('slack-refused'), fake, sink, POLICY, {
      slack: sender,
    });
    extraRelays.push(refusing);
    const payload = inGroup(fixture('firing-postgresql-down'), 'refused');
    const { incidentId } = await post(refusing, payload);
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await waitForIdle(refusing);
    expect(sender.refused).toBe(1);
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
    expect(fake.callsTo('conversations.history')).toEqual([]);
    const metrics = await metricsText(refusing);
    expect(metricValue(metrics, 'relay_delivery_retries_total', { channel: 'slack' })).toBe(1);
    expect(metricValue(metrics, DUPLICATES, { channel: 'slack' })).toBe(0);
  });
});

describe('which failures may have reached Slack (classifySlackError through the real WebClient)', () => {
  const rejection = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail('expected the post to fail'),
      (error: unknown) => error,
    );
  const message = { channel: CRITICAL, text: 'classify' };

  it('a request held past the timeout, or reset after it arrived, is ambiguous', async () => {
    const sender = new WebApiSlackSender(DEFAULT_SLACK_TOKEN, fake.url, 500);
    fake.failNext('chat.postMessage', { kind: 'timeout' });
    fake.failNext('chat.postMessage', { kind: 'reset' });
    for (const fault of ['timeout', 'reset']) {
      const error = await rejection(sender.postMessage(message));
      expect(error, fault).toBeInstanceOf(TransientDeliveryError);
      expect((error as TransientDeliveryError).ambiguous, fault).toBe(true);
    }
  });

  it('a refused connection is not', async () => {
    const refused = new WebApiSlackSender(
      DEFAULT_SLACK_TOKEN,
      `http://127.0.0.1:${await closedPort()}/api/`,
      500,
    );
    const error = await rejection(refused.postMessage(message));
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as TransientDeliveryError).ambiguous).toBe(false);
  });
});

describe('without the history scopes', { timeout: TEST_TIMEOUT }, () => {
  it('warns at start and at the first failed look-up, counts it, and posts: one root, nothing dead-lettered', async () => {
    fake.scopes = fake.scopes.filter((s) => s !== 'channels:history' && s !== 'groups:history');
    const lines: string[] = [];
    const logSink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const scopeless = await startDeliveryRelay(newPrefix('slack-scopeless'), fake, sink, POLICY, {
      logger: createLogger('info', logSink),
    });
    extraRelays.push(scopeless);
    const warnings = () =>
      lines
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((l) => l.level === 40 && /channels:history/.test(JSON.stringify(l)));
    // At start: auth.test's x-oauth-scopes lacks the history scopes.
    expect(warnings()).toHaveLength(1);

    // A post that times out (never committed): the look-up is refused, so the relay posts again.
    fake.failNext('chat.postMessage', { kind: 'timeout' });
    const payload = inGroup(fixture('firing-postgresql-down'), 'scopeless');
    const { incidentId } = await post(scopeless, payload);
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await waitForIdle(scopeless);
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
    expect(fake.callsTo('conversations.history').map((c) => c.response.body?.error)).toEqual([
      'missing_scope',
    ]);
    const failed = (await scopeless.queue.getJobs(['failed'])).filter(
      (j) => j.data.incidentId === incidentId,
    );
    expect(failed).toEqual([]);
    const log = await deliveryLog(scopeless, payload, incidentId, 'slack', CRITICAL);
    expect(log.root?.ts).toBe(rootsOf(fake, incidentId)[0]!.ts);
    const metrics = await metricsText(scopeless);
    expect(metricValue(metrics, 'relay_slack_lookup_unavailable_total', { reason: 'missing_scope' })).toBe(1);
    expect(metricValue(metrics, 'relay_dead_letters_total', { channel: 'slack' })).toBe(0);
    // ... and once more at the first failed look-up, with what to do about it.
    expect(warnings()).toHaveLength(2);
  });
});
