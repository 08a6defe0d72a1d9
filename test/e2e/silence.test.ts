/**
 * Silence from Slack against real Alertmanagers (the Debian binary): an unclustered pair, so the silence
 * must be created on each. The silence has the group's labels as equality matchers and the Slack user as
 * its author; reminders pause while it lasts and resume after it ends while the alert still fires.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { signSlackRequest } from '../../src/channels/slack/signatures.js';
import { testConfig } from '../support/config.js';
import { DEFAULT_SLACK_TOKEN, type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { routingPolicy } from '../support/policy.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import {
  type AlertmanagerPair,
  alertmanager,
  freePort,
  PrometheusLikeSender,
  relayAlertmanagerConfig,
  startAlertmanagerPair,
} from './support.js';

const prefix = uniquePrefix('silence');
const SIGNING = 'slack-signing-secret-for-silence';
const TOKEN = 'webhook-token-for-silence-tests';
const SILENCE_SECONDS = 4;

let fake: FakeSlack;
let relay: RunningRelay;
let pair: AlertmanagerPair;
let sender: PrometheusLikeSender;

describe.skipIf(alertmanager.skip)('silence from Slack on a real Alertmanager pair', () => {
  beforeAll(async () => {
    const binary = alertmanager.path();
    fake = await startFakeSlack();
    const webPorts: [number, number] = [await freePort(), await freePort()];
    const relayPort = await freePort();
    relay = await startRelay(
      testConfig(
        prefix,
        {
          PORT: String(relayPort),
          SLACK_BOT_TOKEN: DEFAULT_SLACK_TOKEN,
          SLACK_API_URL: fake.url,
          SLACK_SIGNING_SECRET: SIGNING,
          RELAY_WEBHOOK_TOKEN: TOKEN,
          ALERTMANAGER_URL: webPorts.map((p) => `http://127.0.0.1:${p}`).join(','),
          RELAY_OUTBOX_DIR: `/tmp/${prefix}-outbox`,
        },
        routingPolicy({
          critical: { slack: '#alerts-critical', repeat: '1s' },
          delivery: { slack_pace: 0.05, stale_after: 60 },
          extra: { silence_durations: [`${SILENCE_SECONDS}s`] },
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
        repeatInterval: '2s',
      }),
    });
    sender = new PrometheusLikeSender(pair.urls, [
      {
        labels: {
          alertname: 'ReeferUnitFault',
          severity: 'critical',
          vehicle_id: 'TRK-0077',
          zone: 'cargo-1',
        },
        annotations: { summary: 'Reefer unit fault on TRK-0077' },
        startsAt: new Date(),
        generatorURL: 'http://prometheus:9090/graph',
      },
    ]);
    await sender.start();
  }, 60_000);

  afterAll(async () => {
    await sender?.stop();
    await pair?.stop();
    await relay?.stop();
    await fake?.close();
    await deletePrefix(prefix);
  });

  it('creates the silence on each Alertmanager with the group labels, pauses reminders, and resumes them after it ends', async () => {
    await fake.waitFor(() => fake.topLevelMessages('#alerts-critical').length === 1, 20_000);
    const root = fake.topLevelMessages('#alerts-critical')[0]!;
    const blocks = JSON.stringify(root.attachments);
    expect(blocks).toContain(`"relay_silence_${SILENCE_SECONDS}s"`);
    const value = /"value":"([0-9a-f]{16}:[0-9a-f]{16})"/.exec(blocks)![1]!;

    const body = `payload=${encodeURIComponent(
      JSON.stringify({
        type: 'block_actions',
        user: { id: 'U0MARIA', username: 'maria' },
        actions: [{ action_id: `relay_silence_${SILENCE_SECONDS}s`, value, action_ts: '1795660000.000100' }],
        response_url: `${new URL(fake.url).origin}/response/silence`,
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
    const silencedAt = Date.now();

    await fake.waitFor(() => fake.calls.some((c) => c.method === '/response/silence'), 15_000);
    expect(String(fake.calls.find((c) => c.method === '/response/silence')!.body.text)).toContain(
      'on 2 Alertmanager(s)',
    );
    for (const url of pair.urls) {
      const silences = (await (await fetch(`${url}/api/v2/silences`)).json()) as {
        matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
        createdBy: string;
        status: { state: string };
      }[];
      expect(silences).toHaveLength(1);
      expect(silences[0]!.createdBy).toBe('@maria');
      expect(silences[0]!.matchers.map((m) => [m.name, m.value, m.isRegex]).sort()).toEqual(
        Object.entries({ alertname: 'ReeferUnitFault', vehicle_id: 'TRK-0077' })
          .map(([k, v]) => [k, v, false])
          .sort(),
      );
    }

    // The message shows the silence; reminders pause while it lasts.
    await fake.waitFor(
      () => JSON.stringify(fake.messages.get(root.ts)?.attachments).includes('Silenced by @maria'),
      10_000,
    );
    const reminders = () => fake.replies(root.ts).filter((r) => (r.text ?? '').includes('Reminder')).length;
    const whenShown = reminders();
    const pausedUntil = silencedAt + SILENCE_SECONDS * 1000;
    await new Promise((r) => setTimeout(r, pausedUntil - Date.now() - 300));
    // At a 1 s repeat, an unpaused incident would have drawn about three reminders by now.
    expect(reminders()).toBe(whenShown);

    // After it ends, the alert still fires: reminders resume.
    await fake.waitFor(() => reminders() > whenShown, 15_000);
  }, 60_000);
});
