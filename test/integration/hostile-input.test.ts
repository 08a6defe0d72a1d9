/**
 * Hostile and malformed input against a whole relay (real Redis, fake Slack, SMTP sink): a webhook with no
 * firing alert, impossible timestamps, a lone surrogate in a label, made-up severities, a huge summary, a
 * client that goes away mid-body, and a wrong Redis password.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { groupIdOf } from '../../src/domain/model.js';
import { createLogger } from '../../src/observability/logger.js';
import { testConfig } from '../support/config.js';
import {
  CRITICAL,
  metricsText,
  metricValue,
  rootsOf,
  slackTexts,
  startDeliveryRelay,
  startHarness,
} from '../support/delivery.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { postJson } from '../support/http.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/redis-server.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const WAIT = 30_000;
const prefix = uniquePrefix('hostile');
const logLines: { level: number; msg: string; err?: unknown }[] = [];
let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  const logSink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  relay = await startDeliveryRelay(
    prefix,
    fake,
    sink,
    { criticalRepeat: '1h' },
    { logger: createLogger('debug', logSink) },
  );
});

afterAll(async () => {
  await relay?.stop();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

const webhook = () => `${relay.url}/webhook/alertmanager`;

describe('a webhook with no firing alert for a group without an open incident', () => {
  it('is a 200 no-op: counted, no incident, no message', async () => {
    const empty = { ...inGroup(fixture('firing-reefer-excursion'), 'empty'), alerts: [] };
    const resolvedOnly = inGroup(fixture('resolved-reefer-excursion'), 'resolved-only');
    for (const payload of [empty, resolvedOnly]) {
      const res = await postJson(webhook(), payload);
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ status: 'ignored', reason: 'no_firing_alert' });
      const stored = await relay.store.loadGroup(groupIdOf(payload.receiver, payload.groupKey));
      expect(stored.snapshot).toBeUndefined();
    }
    const text = await metricsText(relay);
    expect(metricValue(text, 'relay_webhooks_ignored_total', { reason: 'no_firing_alert' })).toBe(2);
    // A real firing of the same group afterwards opens an incident as usual, and it is the only message.
    const firing = inGroup(fixture('firing-reefer-excursion'), 'empty');
    const accepted = await postJson(webhook(), firing);
    expect(accepted.status).toBe(200);
    const { incidentId } = accepted.json() as { incidentId: string };
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    const resolvedTexts = fake
      .topLevelMessages()
      .flatMap((m) => slackTexts(m))
      .filter((t) => t.includes('RESOLVED'));
    expect(resolvedTexts).toEqual([]);
  }, 60_000);

  it('still refreshes an open incident (a heartbeat), as a duplicate', async () => {
    const firing = inGroup(fixture('firing-postgresql-down'), 'open-then-empty');
    expect((await postJson(webhook(), firing)).status).toBe(200);
    const res = await postJson(webhook(), { ...firing, alerts: [] });
    expect(res.status).toBe(200);
    expect((res.json() as { status: string }).status).toBe('duplicate');
  });
});

describe('timestamps', () => {
  it('answers 422 naming the field for an impossible date, and stores nothing', async () => {
    const payload = inGroup(fixture('firing-reefer-excursion'), 'bad-time');
    payload.alerts[0]!.startsAt = '2026-02-30T05:00:00Z';
    const res = await postJson(webhook(), payload);
    expect(res.status).toBe(422);
    const body = res.json() as { error: { issues: { path: string; message: string }[] } };
    expect(body.error.issues.map((i) => i.path)).toEqual(['alerts.0.startsAt']);
    const stored = await relay.store.loadGroup(groupIdOf(payload.receiver, payload.groupKey));
    expect(stored.snapshot).toBeUndefined();
  });
});

describe('a lone UTF-16 surrogate in a label', () => {
  it('is delivered to Slack and email (with U+FFFD), not retried into a dead letter', async () => {
    const payload = inGroup(fixture('firing-reefer-excursion'), 'surrogate');
    const bad = 'TRK-\ud800-0042';
    payload.alerts[0]!.labels.vehicle_id = bad;
    payload.commonLabels.vehicle_id = bad;
    payload.groupLabels = { ...payload.groupLabels, vehicle_id: bad };
    const res = await postJson(webhook(), payload);
    expect(res.status).toBe(200);
    const { incidentId } = res.json() as { incidentId: string };
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    const root = rootsOf(fake, incidentId)[0]!;
    expect(slackTexts(root).join('\n')).toContain('TRK-\ufffd-0042');
    await pollUntil(
      () => sink.messages.some((m) => m.headers.get('x-relay-incident') === incidentId),
      WAIT,
      () => 'no email for the incident with a lone surrogate',
    );
    const text = await metricsText(relay);
    expect(metricValue(text, 'relay_dead_letters_total', { channel: 'slack' })).toBe(0);
    expect(metricValue(text, 'relay_dead_letters_total', { channel: 'email' })).toBe(0);
  }, 60_000);
});

describe('metric label cardinality', () => {
  it('bounds the severity label to the known set plus "other" however many severities arrive', async () => {
    const base = inGroup(fixture('firing-high-cpu'), 'cardinality');
    const alert = base.alerts[0]!;
    const alerts = Array.from({ length: 300 }, (_, i) => ({
      ...alert,
      fingerprint: `sev${i}`,
      labels: { ...alert.labels, severity: `made-up-${i}` },
    }));
    const res = await postJson(webhook(), { ...base, alerts, commonLabels: { alertname: 'HighCPU' } });
    expect(res.status).toBe(200);
    const text = await metricsText(relay);
    const series = text.split('\n').filter((l) => l.startsWith('relay_alerts_received_total{'));
    const severities = new Set(series.map((l) => /severity="([^"]*)"/.exec(l)?.[1]));
    expect([...severities].every((s) => ['critical', 'warning', 'info', 'none', 'other'].includes(s!))).toBe(
      true,
    );
    expect(metricValue(text, 'relay_alerts_received_total', { status: 'firing', severity: 'other' })).toBe(
      300,
    );
  });
});

describe('Slack limits', () => {
  it('sends a 100 KB summary shortened with "…" and a link, never failing', async () => {
    const payload = inGroup(fixture('firing-reefer-excursion'), 'huge-summary');
    const huge = 'S'.repeat(100_000);
    payload.alerts[0]!.annotations.summary = huge;
    payload.commonAnnotations = { summary: huge };
    const res = await postJson(webhook(), payload);
    expect(res.status).toBe(200);
    const { incidentId } = res.json() as { incidentId: string };
    await fake.waitFor(() => rootsOf(fake, incidentId, CRITICAL).length === 1, WAIT);
    const call = fake
      .callsTo('chat.postMessage')
      .find((c) => c.response.body?.ok && JSON.stringify(c.body).includes(incidentId))!;
    const body = call.body as { text: string; attachments: { fallback: string; blocks: unknown[] }[] };
    expect(body.text.length).toBeLessThanOrEqual(3000);
    expect(body.attachments[0]!.fallback.length).toBeLessThanOrEqual(3000);
    expect(body.text).toContain('…');
    const texts = slackTexts(body);
    expect(texts.join('').length).toBeLessThan(20_000);
    expect(texts.join('\n')).toMatch(/…/);
    expect(JSON.stringify(body.attachments)).toContain('http://vm:19095/#/alerts');
  }, 60_000);
});

describe('a client that goes away in the middle of its body', () => {
  it('is counted as aborted and logged at debug, not as a 500 or an error', async () => {
    const before = await metricsText(relay);
    const logsFrom = logLines.length;
    const url = new URL(webhook());
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(
            `POST /webhook/alertmanager HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"receiver":"relay",`,
          );
          // Give the relay time to start reading the body, then vanish as a client that gave up would.
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 200);
        });
        socket.on('error', reject);
      });
    }
    await pollUntil(
      async () =>
        metricValue(await metricsText(relay), 'relay_requests_rejected_total', { reason: 'aborted' }) -
          metricValue(before, 'relay_requests_rejected_total', { reason: 'aborted' }) ===
        3,
      WAIT,
      () => 'aborted bodies were not counted as aborted',
    );
    const after = await metricsText(relay);
    expect(metricValue(after, 'relay_http_requests_total', { status: '500' })).toBe(0);
    const lines = logLines.slice(logsFrom);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    const aborted = lines.filter((l) => l.msg === 'client went away before its body was read');
    expect(aborted.map((l) => l.level)).toEqual([20, 20, 20]);
  }, 60_000);
});

describe('a wrong Redis password', () => {
  let child: ChildProcess | undefined;
  let port = 0;
  const ADMIN_PASSWORD = 'admin-password-for-test';

  beforeAll(async () => {
    port = await freePort();
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--requirepass',
        ADMIN_PASSWORD,
      ],
      { stdio: 'ignore' },
    );
    const admin = new Redis({ port, host: '127.0.0.1', password: ADMIN_PASSWORD, lazyConnect: true });
    admin.on('error', () => {}); // refused until the server is up
    await pollUntil(
      async () => {
        await admin.connect().catch(() => undefined);
        return (await admin.ping()) === 'PONG';
      },
      WAIT,
      () => `redis-server with --requirepass on ${port} did not start`,
      50,
    );
    // A user that may log in but not run what the relay needs (the ready check's INFO).
    await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-password', '~*', '+ping', '+hello');
    admin.disconnect();
  });

  afterAll(() => {
    child?.kill('SIGKILL');
  });

  const start = (redisUrl: string) =>
    startRelay(testConfig(uniquePrefix('auth'), { REDIS_URL: redisUrl, RELAY_ROLE: 'api' }), {
      redisWaitMs: 20_000,
    });

  it.each([
    ['a wrong password (WRONGPASS)', () => `redis://:wrong-password@127.0.0.1:${port}`, /WRONGPASS/],
    ['no password (NOAUTH)', () => `redis://127.0.0.1:${port}`, /NOAUTH/],
    [
      'a user without permission (NOPERM)',
      () => `redis://limited:limited-password@127.0.0.1:${port}`,
      /NOPERM/,
    ],
  ])(
    'stops start-up at once with %s, saying authentication failed',
    async (_name, url, code) => {
      const failure = await start(url()).then(
        async (r) => {
          await r.stop();
          return new Error('started');
        },
        (error: Error) => error,
      );
      expect(failure.message).toMatch(/Redis authentication failed/);
      expect(failure.message).toMatch(code);
      expect(failure.message).not.toMatch(/is Redis running/);
      expect(failure.message).not.toContain('wrong-password');
      expect(failure.message).not.toContain('limited-password');
    },
    60_000,
  );
});
