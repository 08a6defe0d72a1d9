/**
 * Alertmanager is the source of truth for "is it still firing" (DESIGN.md), against a real, unclustered
 * Alertmanager pair (the Debian binary) and the fake Slack Web API:
 * - an alert that ends while silenced in Alertmanager gets no resolve notification from it; the relay finds
 *   it gone and resolves the incident (the Slack message turns resolved);
 * - a silence made from Slack and expired early in Alertmanager ends the relay's pause: reminders resume;
 * - a group Alertmanager no longer re-sends (no heartbeat) but still reports active is not "stale"; once no
 *   Alertmanager answers, it is, and the message says so.
 * Alerts are pushed to both replicas as Prometheus does. Outcomes are polled for with generous deadlines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { signSlackRequest } from '../../src/channels/slack/signatures.js';
import { testConfig } from '../support/config.js';
import {
  DEFAULT_SLACK_TOKEN,
  type FakeSlack,
  type FakeSlackMessage,
  startFakeSlack,
} from '../support/fake-slack.js';
import { routingPolicy } from '../support/policy.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import {
  type AlertmanagerPair,
  alertmanager,
  freePort,
  relayAlertmanagerConfig,
  startAlertmanagerPair,
  waitUntil,
  webhookNotificationsSent,
} from './support.js';

const prefix = uniquePrefix('am-truth');
const SIGNING = 'slack-signing-secret-for-am-truth';
const TOKEN = 'webhook-token-for-am-truth-tests';
const CHANNEL = '#alerts-critical';
/** Reminders every 2 s; the group counts as missing its heartbeat after 3 s (Alertmanager repeats hourly). */
const REPEAT = '2s';
const DEADLINE = 30_000;

let fake: FakeSlack;
let relay: RunningRelay;
let pair: AlertmanagerPair;

interface PushedAlert {
  labels: Record<string, string>;
  startsAt: Date;
}

function alertFor(vehicle: string): PushedAlert {
  return {
    labels: { alertname: 'ReeferUnitFault', severity: 'critical', vehicle_id: vehicle },
    // A minute ago, so "ended a second ago" is after it started.
    startsAt: new Date(Date.now() - 60_000),
  };
}

/** Pushes the alert to every replica; `endsAt` in the future keeps it firing, in the past ends it. */
async function push(alert: PushedAlert, endsAt: Date): Promise<void> {
  for (const url of pair.urls) {
    const res = await fetch(`${url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels: alert.labels,
          annotations: { summary: `Reefer unit fault on ${alert.labels.vehicle_id}` },
          startsAt: alert.startsAt.toISOString(),
          endsAt: endsAt.toISOString(),
          generatorURL: 'http://prometheus:9090/graph',
        },
      ]),
    });
    expect(res.status, await res.text()).toBe(200);
  }
}

const fire = (alert: PushedAlert) => push(alert, new Date(Date.now() + 10 * 60_000));
const end = (alert: PushedAlert) => push(alert, new Date(Date.now() - 1000));

/** The group's alerts as a replica reports them (every state), by the vehicle label. */
async function reported(url: string, vehicle: string): Promise<{ status: { state: string } }[]> {
  const filter = encodeURIComponent(`vehicle_id="${vehicle}"`);
  return (await (await fetch(`${url}/api/v2/alerts?filter=${filter}`)).json()) as {
    status: { state: string };
  }[];
}

function rootFor(vehicle: string): FakeSlackMessage | undefined {
  return fake.topLevelMessages(CHANNEL).find((m) => JSON.stringify(m.attachments).includes(vehicle));
}

const rootText = (ts: string) => JSON.stringify(fake.messages.get(ts)?.attachments ?? []);
const reminders = (ts: string) => fake.replies(ts).filter((r) => /Reminder \d+/.test(r.text ?? '')).length;
const staleReplies = (ts: string) =>
  fake.replies(ts).filter((r) => /has not re-sent|cannot be reached/.test(r.text ?? ''));

async function waitForRoot(vehicle: string): Promise<FakeSlackMessage> {
  await fake.waitFor(() => rootFor(vehicle) !== undefined, DEADLINE);
  return rootFor(vehicle)!;
}

async function resolvedByCheck(): Promise<number> {
  return (await relay.metrics.alertsResolvedByCheck.get()).values.reduce((sum, v) => sum + v.value, 0);
}

describe.skipIf(alertmanager.skip)('Alertmanager as the source of truth (real Alertmanager pair)', () => {
  beforeAll(async () => {
    const binary = alertmanager.path();
    fake = await startFakeSlack();
    const webPorts: [number, number] = [await freePort(), await freePort()];
    relay = await startRelay(
      testConfig(
        prefix,
        {
          PORT: String(await freePort()),
          SLACK_BOT_TOKEN: DEFAULT_SLACK_TOKEN,
          SLACK_API_URL: fake.url,
          SLACK_SIGNING_SECRET: SIGNING,
          RELAY_WEBHOOK_TOKEN: TOKEN,
          ALERTMANAGER_URL: webPorts.map((p) => `http://127.0.0.1:${p}`).join(','),
          RELAY_OUTBOX_DIR: `/tmp/${prefix}-outbox`,
        },
        routingPolicy({
          critical: { slack: CHANNEL, repeat: REPEAT },
          delivery: { slack_pace: 0.05, stale_after: '3s', alertmanager_check: '1s' },
          extra: { silence_durations: ['1h'] },
        }),
      ),
    );
    pair = await startAlertmanagerPair({
      binary,
      webPorts,
      clustered: false,
      config: relayAlertmanagerConfig({
        relayUrl: relay.url,
        token: TOKEN,
        groupBy: ['alertname', 'vehicle_id'],
        groupWait: '1s',
        groupInterval: '1s',
        // No heartbeat within a test: only the relay's questions tell it the group is alive.
        repeatInterval: '1h',
      }),
    });
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
    await relay?.stop();
    await fake?.close();
    await deletePrefix(prefix);
  });

  it('resolves an alert that ended while silenced in Alertmanager, which sends no resolve for it', async () => {
    const alert = alertFor('TRK-3101');
    await fire(alert);
    const root = await waitForRoot('TRK-3101');
    expect(rootText(root.ts)).not.toContain('RESOLVED');

    // Silenced in Alertmanager's own UI (on each replica of the unclustered pair).
    const now = Date.now();
    for (const url of pair.urls) {
      const res = await fetch(`${url}/api/v2/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          matchers: [{ name: 'vehicle_id', value: 'TRK-3101', isRegex: false, isEqual: true }],
          startsAt: new Date(now).toISOString(),
          endsAt: new Date(now + 3_600_000).toISOString(),
          createdBy: 'oncall',
          comment: 'maintenance',
        }),
      });
      expect(res.status).toBe(200);
      await waitUntil(
        `${url} to report TRK-3101 suppressed`,
        async () => (await reported(url, 'TRK-3101'))[0]?.status.state === 'suppressed',
        DEADLINE,
      );
    }
    const sentBeforeEnd = (await Promise.all(pair.urls.map(webhookNotificationsSent))).reduce(
      (a, b) => a + b,
    );

    // The alert ends while silenced: Alertmanager stops reporting it, and notifies nobody.
    await end(alert);
    for (const url of pair.urls)
      await waitUntil(
        `${url} to stop reporting TRK-3101`,
        async () => (await reported(url, 'TRK-3101')).length === 0,
        DEADLINE,
      );

    await fake.waitFor(() => rootText(root.ts).includes('RESOLVED'), DEADLINE);
    await fake.waitFor(
      () => fake.replies(root.ts).some((r) => (r.text ?? '').includes('Resolved after')),
      DEADLINE,
    );
    expect(await resolvedByCheck()).toBeGreaterThanOrEqual(1);
    // The relay did it: Alertmanager sent no webhook since the alert ended.
    const sentAfter = (await Promise.all(pair.urls.map(webhookNotificationsSent))).reduce((a, b) => a + b);
    expect(sentAfter).toBe(sentBeforeEnd);
    expect(staleReplies(root.ts)).toHaveLength(0);
  }, 90_000);

  it('ends the pause of a silence made from Slack once it is expired early in Alertmanager: reminders resume', async () => {
    const alert = alertFor('TRK-3102');
    await fire(alert);
    const root = await waitForRoot('TRK-3102');
    const value = /"value":"([0-9a-f]{16}:[0-9a-f]{16})"/.exec(rootText(root.ts))![1]!;

    const body = `payload=${encodeURIComponent(
      JSON.stringify({
        type: 'block_actions',
        user: { id: 'U0MARIA', username: 'maria' },
        actions: [{ action_id: 'relay_silence_3600s', value, action_ts: '1795660000.000100' }],
        response_url: `${new URL(fake.url).origin}/response/am-truth`,
      }),
    )}`;
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(`${relay.url}/slack/interactions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': signSlackRequest(SIGNING, ts, body),
      },
      body,
    });
    expect(res.status).toBe(200);
    await fake.waitFor(() => rootText(root.ts).includes('Silenced by @maria'), DEADLINE);
    const pausedAt = reminders(root.ts);

    // While the silence lasts, reminders stay paused (at a 2 s repeat, several would be due by now).
    await new Promise((r) => setTimeout(r, 5000));
    expect(reminders(root.ts)).toBe(pausedAt);

    // Someone expires the silence early in Alertmanager (on each replica).
    for (const url of pair.urls) {
      const silences = (await (await fetch(`${url}/api/v2/silences`)).json()) as {
        id: string;
        createdBy: string;
        status: { state: string };
      }[];
      const ours = silences.filter((s) => s.createdBy === '@maria' && s.status.state === 'active');
      expect(ours).toHaveLength(1);
      expect((await fetch(`${url}/api/v2/silence/${ours[0]!.id}`, { method: 'DELETE' })).status).toBe(200);
    }

    await fake.waitFor(() => reminders(root.ts) > pausedAt, DEADLINE);
    await fake.waitFor(() => !rootText(root.ts).includes('Silenced by'), DEADLINE);
    expect(rootText(root.ts)).not.toContain('RESOLVED');
  }, 90_000);

  it('does not call a group stale while Alertmanager reports it active, though it re-sends nothing', async () => {
    const alert = alertFor('TRK-3103');
    await fire(alert);
    const root = await waitForRoot('TRK-3103');
    // Three reminders at a 2 s repeat take longer than stale_after (3 s) without any webhook.
    await fake.waitFor(() => reminders(root.ts) >= 3, DEADLINE);
    expect(staleReplies(root.ts)).toHaveLength(0);
    expect(rootText(root.ts)).not.toContain('RESOLVED');
  }, 60_000);
  // Last: it stops the Alertmanagers.
  it('says "stale" only once no Alertmanager can be asked, naming them, and then stops reminding', async () => {
    const alert = alertFor('TRK-3104');
    await fire(alert);
    const root = await waitForRoot('TRK-3104');
    await fake.waitFor(() => reminders(root.ts) >= 1, DEADLINE);
    expect(staleReplies(root.ts)).toHaveLength(0);

    await pair.stop();
    await fake.waitFor(() => staleReplies(root.ts).length === 1, DEADLINE);
    const [stale] = staleReplies(root.ts);
    expect(stale!.text).toContain(`Alertmanager at ${pair.urls.join(', ')} cannot be reached`);
    expect(stale!.text).not.toContain('ALERTMANAGER_URL');
    const remindersAtStale = reminders(root.ts);
    // Reminders stop, and it is said once (at a 2 s repeat, a few would be due by now).
    await new Promise((r) => setTimeout(r, 5000));
    expect(reminders(root.ts)).toBe(remindersAtStale);
    expect(staleReplies(root.ts)).toHaveLength(1);
    expect(rootText(root.ts)).not.toContain('RESOLVED');
  }, 60_000);
});
