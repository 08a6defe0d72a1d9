/**
 * A critical does not wait behind a warning backlog (issue 9, item 5): delivery jobs carry a BullMQ priority
 * by severity, and a job the Slack pace gate holds back sleeps until its own slot instead of waking with
 * every other waiter at each slot (one wake-up per paced message, not one per waiter per message).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/app/relay.js';
import {
  CRITICAL,
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

const prefixes = [uniquePrefix('priority-queued'), uniquePrefix('priority-paced')];
let fake: FakeSlack;
let sink: SmtpSink;
const relays: RunningRelay[] = [];
const BACKLOG = 200;
const PACED_BACKLOG = 100;

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
});

afterAll(async () => {
  for (const relay of relays) await relay.stop();
  await fake?.close();
  await sink?.close();
  for (const prefix of prefixes) await deletePrefix(prefix);
});

async function postBacklog(relay: RunningRelay, tag: string, count = BACKLOG): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++)
    ids.push((await post(relay, inGroup(fixture('firing-high-cpu'), `${tag}-${i}`))).incidentId);
  return ids;
}

describe('a critical queued behind a warning backlog', () => {
  it('is delivered first: the first Slack message a worker sends is the critical one', async () => {
    const prefix = prefixes[0]!;
    const policy = {
      criticalRepeat: '1h',
      delivery: { slack_pace: 0.05, shutdown_grace: 0.3, concurrency: 1 },
    };
    // Everything is queued before any worker runs, so the order below is the queue's alone.
    const api = await startDeliveryRelay(prefix, fake, sink, policy, {}, { RELAY_ROLE: 'api' });
    relays.push(api);
    const warnings = await postBacklog(api, 'queued');
    const critical = (await post(api, inGroup(fixture('firing-postgresql-down'), 'queued-critical')))
      .incidentId;

    relays.push(await startDeliveryRelay(prefix, fake, sink, policy, {}, { RELAY_ROLE: 'worker' }));
    await fake.waitFor(() => rootsOf(fake, critical, CRITICAL).length === 1, 30_000);
    const ours = [critical, ...warnings];
    const first = fake
      .topLevelMessages()
      .find((m) => ours.some((id) => JSON.stringify(m.attachments ?? []).includes(id)));
    expect(JSON.stringify(first?.attachments)).toContain(critical);
  });
});

describe('a critical for an idle channel while another channel is paced', () => {
  it('goes out before the backlog drains, and the backlog wakes about once per message', async () => {
    const prefix = prefixes[1]!;
    // The drain is paced at 10 messages/s, so it takes 10 s at the least: the critical cannot be last by speed.
    const relay = await startDeliveryRelay(prefix, fake, sink, {
      criticalRepeat: '1h',
      delivery: { slack_pace: 0.1, shutdown_grace: 0.3 },
      // A backlog of 100 at once is a storm (issue 14), folded into a digest; this test measures the gate.
      storm: { threshold: 1000, window: '30s' },
    });
    relays.push(relay);
    const warnings = await postBacklog(relay, 'paced', PACED_BACKLOG);
    const posted = () => warnings.filter((id) => rootsOf(fake, id, WARNING).length === 1).length;
    await pollUntil(
      () => posted() > 0,
      30_000,
      () => 'no warning was posted',
    );

    const critical = (await post(relay, inGroup(fixture('firing-postgresql-down'), 'paced-critical')))
      .incidentId;
    await fake.waitFor(() => rootsOf(fake, critical, CRITICAL).length === 1, 30_000);
    expect(posted()).toBeLessThan(PACED_BACKLOG);

    // The drain's speed is the machine's (a loaded one managed 1.5 messages/s): a generous deadline.
    await pollUntil(
      () => posted() === PACED_BACKLOG,
      180_000,
      () => `${posted()} of ${PACED_BACKLOG} warnings posted`,
    );
    // Each waiter is held back by the gate about once (a slot of its own), not once per message before it.
    const waits = metricValue(await metricsText(relay), 'relay_rate_limit_waits_total', { channel: 'slack' });
    expect(waits).toBeGreaterThan(0);
    expect(waits).toBeLessThan(2 * PACED_BACKLOG);
  }, 240_000);
});
