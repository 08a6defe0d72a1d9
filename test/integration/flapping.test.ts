/**
 * Flap control end to end (issue 14, item 9): real Redis, the workers, the fake Slack Web API and the SMTP
 * sink. One group fires and resolves five times within the window (`flapping: {count: 0}`, so every re-fire
 * within 30 min is a flap): each episode is a new incident with its own id and delivery logs, and all of
 * them are shown on the first episode's Slack message (updated in place, "Fired again" in its thread) and
 * in its email thread, with the counter and when the group last settled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { deliveryIdOf, groupIdOf } from '../../src/domain/model.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { testConfig } from '../support/config.js';
import {
  CRITICAL,
  deliveryEnv,
  ONCALL,
  post,
  slackTexts,
  startHarness,
  waitForIdle,
} from '../support/delivery.js';
import type { FakeSlack, FakeSlackMessage } from '../support/fake-slack.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('flapping');
let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;
const WAIT = 30_000;
const EPISODES = 5;

const POLICY = `routes:
  - name: critical
    matchers: ['severity="critical"']
    slack: ['${CRITICAL}']
    email: [oncall]
    repeat: 1h
    flapping: { count: 0, window: 30m }
fallback_route: critical
delivery: { backoff: 0.2, max_backoff: 1, attempts: 5, slack_pace: 0.1, stale_after: 600, shutdown_grace: 1, slack_timeout: 30, smtp_timeout: 30 }
`;
const GROUP_KEY = '{}:{alertname="ReeferDoorOpen", vehicle_id="TRK-0777"}';

function payload(status: 'firing' | 'resolved', startsAt: string): WebhookPayload {
  const labels = { alertname: 'ReeferDoorOpen', severity: 'critical', vehicle_id: 'TRK-0777' };
  return {
    version: '4',
    groupKey: GROUP_KEY,
    truncatedAlerts: 0,
    status,
    receiver: 'relay',
    groupLabels: { alertname: 'ReeferDoorOpen', vehicle_id: 'TRK-0777' },
    commonLabels: labels,
    commonAnnotations: { summary: 'Reefer door open on TRK-0777' },
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status,
        labels,
        annotations: { summary: 'Reefer door open on TRK-0777' },
        startsAt,
        endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: 'f1a9f1a9f1a9f1a9',
      },
    ],
  } as WebhookPayload;
}

const gid = groupIdOf('relay', GROUP_KEY);
const logOf = (incidentId: string, kind: 'slack' | 'email') =>
  relay.deliveries.loadLog(gid, incidentId, deliveryIdOf(kind, kind === 'slack' ? CRITICAL : ONCALL));
const metaOf = (m: FakeSlackMessage) =>
  m.metadata as { event_type?: string; event_payload?: Record<string, string> } | undefined;
const ids: string[] = [];
const starts: string[] = [];

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  relay = await startRelay(testConfig(prefix, deliveryEnv(fake, sink), POLICY));
  for (let n = 0; n < EPISODES; n++) {
    const startsAt = new Date(Date.now() - (EPISODES - n) * 60_000).toISOString();
    const { incidentId } = await post(relay, payload('firing', startsAt));
    ids.push(incidentId);
    starts.push(startsAt);
    await pollUntil(
      async () =>
        (await logOf(incidentId, 'slack')).told?.status === 'firing' &&
        (await logOf(incidentId, 'email')).told?.status === 'firing',
      WAIT,
      () => `episode ${n + 1} (${incidentId}) to be told as firing`,
    );
    if (n === EPISODES - 1) break;
    await post(relay, payload('resolved', startsAt));
    await pollUntil(
      async () =>
        (await logOf(incidentId, 'slack')).told?.status === 'resolved' &&
        (await logOf(incidentId, 'email')).told?.status === 'resolved',
      WAIT,
      () => `episode ${n + 1} (${incidentId}) to be told as resolved`,
    );
  }
}, 10 * WAIT);

afterAll(async () => {
  await relay?.stop();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

describe('a group flapping five times', () => {
  it('keeps each episode a new incident with its own delivery logs', async () => {
    expect(new Set(ids).size).toBe(EPISODES);
    for (const id of ids) {
      expect((await logOf(id, 'slack')).lastOutcome).toBe('delivered');
      expect((await logOf(id, 'email')).lastOutcome).toBe('delivered');
    }
  });

  it('shows all five on one Slack message, updated in place, with the counter and the last settle', async () => {
    const roots = fake.topLevelMessages(CRITICAL);
    expect(roots).toHaveLength(1);
    const root = roots[0]!;
    // Posted by the first episode; each later one took it over (its metadata names who shows on it now).
    const posts = fake.callsTo('chat.postMessage').filter((c) => c.body.thread_ts === undefined);
    expect(posts).toHaveLength(1);
    expect(JSON.stringify(posts[0]?.body.metadata)).toContain(ids[0]);
    expect(metaOf(root)?.event_payload?.incident_id).toBe(ids.at(-1));
    // Every later episode's first message is a chat.update of that root, not a post.
    expect(root.updates).toBeGreaterThanOrEqual(EPISODES - 1);
    for (const id of ids.slice(1)) expect((await logOf(id, 'slack')).root?.ts).toBe(root.ts);
    const text = slackTexts(root).join('\n');
    expect(text).toContain(`flapping: ${EPISODES} times in 30 min`);
    expect(text).toMatch(/last settled at (\d{1,2} [A-Z][a-z]{2} )?\d\d:\d\d UTC/);
    expect(text).toContain(ids.at(-1));
    const firedAgain = fake.replies(root.ts).filter((m) => m.text?.includes('Fired again'));
    expect(firedAgain).toHaveLength(EPISODES - 1);
    expect(firedAgain.at(-1)?.text).toContain(`flapping: ${EPISODES} times in 30 min`);
  });

  it('keeps one email thread: every later episode replies in the first episode’s thread', async () => {
    const mails = sink.messages.filter((m) => m.to.includes(ONCALL));
    const firsts = mails.filter((m) => !m.inReplyTo);
    expect(firsts).toHaveLength(1);
    const rootId = firsts[0]!.messageId!;
    expect(firsts[0]!.headers.get('x-relay-incident')).toBe(ids[0]);
    for (const id of ids.slice(1)) {
      const own = mails.filter((m) => m.headers.get('x-relay-incident') === id);
      expect(own.length).toBeGreaterThan(0);
      for (const m of own) expect(m.references).toContain(rootId);
      expect(own[0]!.subject).toBe(`Re: ${firsts[0]!.subject}`);
    }
    const last = mails.find((m) => m.headers.get('x-relay-incident') === ids.at(-1));
    expect(last?.text).toContain(`flapping: ${EPISODES} times in 30 min`);
    expect(last?.text).toMatch(/last settled at (\d{1,2} [A-Z][a-z]{2} )?\d\d:\d\d UTC/);
  });

  it(
    'the last episode’s resolve updates the shared root; an earlier episode leaves it alone',
    async () => {
      const updatesBefore = fake.callsTo('chat.update').length;
      await post(relay, payload('resolved', starts.at(-1)!));
      const root = fake.topLevelMessages(CRITICAL)[0]!;
      await pollUntil(
        async () => (await logOf(ids.at(-1)!, 'slack')).told?.status === 'resolved',
        WAIT,
        () => 'the last episode to be told as resolved',
      );
      await fake.waitFor(() => (root.attachments?.[0] as { color?: string })?.color === '#2EB67D', WAIT);
      expect(slackTexts(root).join('\n')).toContain(ids.at(-1));
      // An earlier episode's run (a late job, a check) would render itself: it is told the root is taken.
      const before = fake.callsTo('chat.update').length;
      await relay.queue.enqueue([
        {
          groupId: gid,
          incidentId: ids[0]!,
          deliveryId: deliveryIdOf('slack', CRITICAL),
          kind: 'slack',
          severity: 'critical',
          acceptedAt: Date.now(),
        },
      ]);
      await waitForIdle(relay, { timeoutMs: WAIT });
      expect(fake.callsTo('chat.update').length).toBe(before);
      expect(before).toBeGreaterThan(updatesBefore);
      expect(slackTexts(root).join('\n')).toContain(ids.at(-1));
    },
    2 * WAIT,
  );
});
