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
import { signSlackRequest } from '../../src/ack/signatures.js';
import { type RunningRelay, startRelay } from '../../src/relay.js';
import { testConfig } from '../support/config.js';
import {
  DEFAULT_SLACK_TOKEN,
  type FakeSlack,
  type FakeSlackMessage,
  startFakeSlack,
} from '../support/fake-slack.js';
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
const DEADLINE = 120_000;

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
        `routes:
  - name: critical
    matchers: ['severity="critical"']
    slack: ['${CHANNEL}']
    repeat: ${REPEAT}
fallback_route: critical
silence_durations: [1h]
delivery:
  slack_pace: 0.05
  stale_after: 3s
  alertmanager_check: 60s
`,
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

  it('measures', async () => {
    const alert = alertFor('TRK-3999');
    await fire(alert);
    const root = await waitForRoot('TRK-3999');
    const value = /"value":"([0-9a-f]{16}:[0-9a-f]{16})"/.exec(rootText(root.ts))![1]!;
    const body = `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', user: { id: 'U0MARIA', username: 'maria' }, actions: [{ action_id: 'relay_silence_3600s', value, action_ts: '1795660000.000100' }], response_url: `${new URL(fake.url).origin}/response/x` }))}`;
    const ts = Math.floor(Date.now() / 1000);
    await fetch(`${relay.url}/slack/interactions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signSlackRequest(SIGNING, ts, body) }, body });
    await fake.waitFor(() => rootText(root.ts).includes('Silenced by @maria'), DEADLINE);
    await new Promise((r) => setTimeout(r, 3000));
    const ended = Date.now();
    await end(alert);
    await fake.waitFor(() => rootText(root.ts).includes('RESOLVED'), DEADLINE);
    console.log(`MEASURE resolved ${Date.now() - ended} ms after the end (alertmanager_check 60s, paused by a Slack silence)`);
  }, 200_000);
});
