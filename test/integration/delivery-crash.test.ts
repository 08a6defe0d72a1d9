/**
 * A relay that dies mid-delivery (DESIGN.md §What "nothing lost" means: "a relay process crash at any point").
 * Relay A's Slack sender wraps the real one and freezes — before the call for one incident, after Slack's ok
 * (before the ts is recorded) for another — as a process would that was killed there. A is stopped; relay B
 * on the same Redis prefix takes the jobs over once their locks expire and finishes them: one root message
 * either way (after Slack's ok, B finds the message A posted by its metadata in the channel's history and
 * adopts it instead of posting again), and later updates go to the ts the log recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/app/relay.js';
import {
  type SlackMessage,
  type SlackPosted,
  type SlackSender,
  WebApiSlackSender,
} from '../../src/channels/slack/sender.js';
import {
  CRITICAL,
  deliveryLog,
  mailsFor,
  metricsText,
  metricValue,
  post,
  rootsOf,
  startDeliveryRelay,
  startHarness,
  WARNING,
} from '../support/delivery.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('delivery-crash');
let fake: FakeSlack;
let sink: SmtpSink;
const relays: RunningRelay[] = [];
const POLICY = { criticalRepeat: '1h', delivery: { stale_after: 600, shutdown_grace: 0.3 } };
// Production waits 30 s (BullMQ) and 120 s (delivery lock) before taking over a dead worker's job.
const LOCKS = { jobLockMs: 1000, deliveryLockMs: 2000 };
const WAIT = 15_000;

type Freeze = 'before' | 'after';

/** The real sender; the first root post whose text matches a rule freezes forever, before or after Slack's ok. */
class FreezingSlackSender implements SlackSender {
  readonly preview = false;
  readonly frozen: { freeze: Freeze; posted?: SlackPosted }[] = [];
  private readonly used = new Set<string>();
  constructor(
    private readonly real: SlackSender,
    private readonly rules: Record<string, Freeze>,
  ) {}
  async postMessage(message: SlackMessage): Promise<SlackPosted> {
    const rule = Object.entries(this.rules).find(
      ([match]) => !message.thread_ts && message.text.includes(match) && !this.used.has(match),
    );
    if (!rule) return this.real.postMessage(message);
    this.used.add(rule[0]);
    if (rule[1] === 'before') {
      this.frozen.push({ freeze: 'before' });
      return new Promise<never>(() => {});
    }
    const posted = await this.real.postMessage(message);
    this.frozen.push({ freeze: 'after', posted });
    return new Promise<never>(() => {});
  }
  get lookup() {
    return this.real.lookup;
  }
  update(message: SlackMessage & { ts: string }): Promise<void> {
    return this.real.update(message);
  }
  verify(): Promise<string> {
    return this.real.verify();
  }
}

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
});

afterAll(async () => {
  for (const relay of relays) await relay.stop();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

describe('a relay killed mid-delivery', () => {
  it('is finished by another relay: one root, no duplicate, and updates go to the recorded ts', async () => {
    const sender = new FreezingSlackSender(new WebApiSlackSender('xoxb-test-token', fake.url, 30_000), {
      PostgreSQLDown: 'after',
      HighCPUUsage: 'before',
    });
    const a = await startDeliveryRelay(prefix, fake, sink, POLICY, { slack: sender, locks: LOCKS });
    relays.push(a);
    const after = inGroup(fixture('firing-postgresql-down'), 'crash-after');
    const before = inGroup(fixture('firing-high-cpu'), 'crash-before');
    const crashedAfter = await post(a, after);
    const crashedBefore = await post(a, before);

    await fake.waitFor(
      () => sender.frozen.length === 2 && rootsOf(fake, crashedAfter.incidentId).length === 1,
      WAIT,
    );
    // The email of the first incident is a separate delivery and went out normally.
    await sink.waitFor(() => mailsFor(sink, crashedAfter.incidentId).length === 1, WAIT);
    expect(rootsOf(fake, crashedBefore.incidentId)).toHaveLength(0);
    // Nothing recorded the ts: A froze between Slack's ok and the write.
    expect((await deliveryLog(a, after, crashedAfter.incidentId, 'slack', CRITICAL)).root).toBeUndefined();

    // "Kill" A: stop() must not wait for the frozen deliveries beyond shutdown_grace.
    const stopping = Date.now();
    await a.stop();
    // The frozen sends never end, so any finite bound shows that stop() did not wait for them; a tight one
    // would only measure the machine.
    expect(Date.now() - stopping).toBeLessThan(20_000);

    const b = await startDeliveryRelay(prefix, fake, sink, POLICY, { locks: LOCKS });
    relays.push(b);
    await fake.waitFor(() => rootsOf(fake, crashedBefore.incidentId, WARNING).length === 1, WAIT);
    await pollUntil(
      async () =>
        (await deliveryLog(b, after, crashedAfter.incidentId, 'slack', CRITICAL)).root?.ts !== undefined,
      WAIT,
      () => 'B to record the root of the incident A froze after posting',
    );

    // Frozen before the call: B posts the only message.
    const beforeLog = await deliveryLog(b, before, crashedBefore.incidentId, 'slack', WARNING);
    expect(beforeLog.root?.ts).toBe(rootsOf(fake, crashedBefore.incidentId)[0]!.ts);
    // Frozen after Slack's ok: B finds A's message in the channel's history by its metadata and adopts it.
    const roots = rootsOf(fake, crashedAfter.incidentId);
    expect(roots).toHaveLength(1);
    const afterLog = await deliveryLog(b, after, crashedAfter.incidentId, 'slack', CRITICAL);
    expect(afterLog.root?.ts).toBe(roots[0]!.ts);
    expect(afterLog.root?.ts).toBe(sender.frozen.find((f) => f.freeze === 'after')?.posted?.ts);
    expect(afterLog.inFlight).toBeUndefined();
    const metrics = await metricsText(b);
    // Neither crash left a duplicate: one message was found and adopted, the other was never sent.
    expect(metricValue(metrics, 'relay_duplicate_posts_total', { channel: 'slack' })).toBe(0);
    expect(metricValue(metrics, 'relay_slack_messages_adopted_total', { kind: 'root' })).toBe(1);
    expect(metricValue(metrics, 'relay_dead_letters_total', { channel: 'slack' })).toBe(0);
    expect(mailsFor(sink, crashedAfter.incidentId)).toHaveLength(1);

    // Later changes update the recorded root in place and reply in its thread.
    await post(b, inGroup(fixture('resolved-postgresql-down'), 'crash-after'));
    await fake.waitFor(
      () => fake.replies(afterLog.root!.ts!).some((r) => r.text?.includes('Resolved after')),
      WAIT,
    );
    const updates = fake
      .callsTo('chat.update')
      .filter((c) => JSON.stringify(c.body).includes(crashedAfter.incidentId));
    expect(updates.length).toBeGreaterThanOrEqual(1);
    for (const call of updates) {
      expect(call.body.ts).toBe(afterLog.root!.ts);
      expect(call.body.channel).toBe('C0CRIT');
      expect(call.response.body?.ok).toBe(true);
    }
    expect(rootsOf(fake, crashedAfter.incidentId)).toHaveLength(1);
  });
});
