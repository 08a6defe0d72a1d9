/**
 * A real Alertmanager pair (the Debian binary) in front of the relay: an alert fires, is silenced in
 * Alertmanager, and ends while silenced. Alertmanager sends no resolved notification for it, so the only
 * way the message can tell the truth is the relay asking Alertmanager (DESIGN.md §Alertmanager is the source
 * of truth). The recovery is owed to Slack and email although no webhook announced it.
 */
import { afterAll, describe, it } from 'vitest';
import {
  type AlertmanagerPair,
  alertmanager,
  PrometheusLikeSender,
  relayAlertmanagerConfig,
  startAlertmanagerPair,
} from '../e2e/support.js';
import { freePort } from '../support/redis-server.js';
import type { Accepted } from './support/poster.js';
import { judge } from './support/verdict.js';
import { waitUntilCalls } from './support/waits.js';
import { WebhookRecorder } from './support/webhook-recorder.js';
import { World } from './support/world.js';

const TOKEN = 'webhook-token-for-the-fault-suite';
let world: World | undefined;
let pair: AlertmanagerPair | undefined;
let recorder: WebhookRecorder | undefined;
let sender: PrometheusLikeSender | undefined;

afterAll(async () => {
  await sender?.stop();
  await pair?.stop();
  await recorder?.close();
  await world?.close();
});

async function silence(url: string, alertname: string): Promise<void> {
  const res = await fetch(`${url}/api/v2/silences`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      matchers: [{ name: 'alertname', value: alertname, isRegex: false, isEqual: true }],
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      createdBy: 'fault-suite',
      comment: 'silenced, then the alert ends while silenced',
    }),
  });
  if (!res.ok) throw new Error(`silence on ${url}: ${res.status} ${await res.text()}`);
}

async function suppressed(url: string, alertname: string): Promise<boolean> {
  const res = await fetch(`${url}/api/v2/alerts?filter=alertname%3D%22${alertname}%22`);
  const alerts = (await res.json()) as { status: { state: string } }[];
  return alerts.length > 0 && alerts.every((a) => a.status.state === 'suppressed');
}

describe.skipIf(alertmanager.skip)('Alertmanager silence, then recovery', () => {
  it('an alert that ends while silenced is shown resolved on Slack and by email', async () => {
    const id = 'alertmanager-silence-recovery';
    const alertname = 'FaultSuiteReeferUnitFault';
    const binary = alertmanager.path();
    recorder = await WebhookRecorder.start();
    const webPorts: [number, number] = [await freePort(), await freePort()];
    pair = await startAlertmanagerPair({
      binary,
      webPorts,
      clustered: false,
      config: relayAlertmanagerConfig({
        relayUrl: recorder.url,
        token: TOKEN,
        groupBy: ['alertname', 'vehicle_id'],
        groupWait: '1s',
        groupInterval: '1s',
        repeatInterval: '1h',
      }),
    });
    world = await World.start(id, {
      criticalRepeat: '2s',
      env: { ALERTMANAGER_URL: pair.urls.join(','), RELAY_WEBHOOK_TOKEN: TOKEN },
    });
    const w = world;
    const r = recorder;
    r.target = w.relay.url;
    sender = new PrometheusLikeSender(pair.urls, [
      {
        labels: { alertname, severity: 'critical', vehicle_id: 'TRK-0042' },
        annotations: { summary: 'Reefer unit fault on TRK-0042' },
        startsAt: new Date(),
        generatorURL: 'http://prometheus.invalid/graph',
      },
    ]);
    await sender.start();
    await waitUntilCalls(() => r.accepted.length > 0, 'the first webhook from Alertmanager');
    const firingWebhook = r.accepted[0]!;

    for (const url of pair.urls) await silence(url, alertname);
    const p = pair;
    await waitUntilCalls(
      async () => (await Promise.all(p.urls.map((u) => suppressed(u, alertname)))).every(Boolean),
      'both Alertmanagers to report the alert suppressed',
    );
    await sender.resolve();
    // What the relay owes although no webhook says it: the incident resolved, on every destination.
    const recovery: Accepted = {
      ...firingWebhook,
      tag: 'recovery-while-silenced',
      payload: { ...firingWebhook.payload, status: 'resolved' },
      acceptedAt: Date.now(),
    };
    const ledger = await w.settle(150_000, () => [...r.accepted, recovery]);
    judge({
      id,
      fault: 'alert silenced in a real Alertmanager pair, then ends while silenced (no resolved webhook)',
      world: w,
      ledger,
      accepted: [...r.accepted, recovery],
      notes: { webhooksAccepted: r.accepted.length },
    });
  });
});
