/**
 * The escalation ladder and ack_timeout end to end (issue 12) over the real Redis, the fake Slack server and
 * the SMTP sink, with second-scale `after` values: an unacknowledged incident climbs two steps; an
 * acknowledged one does not; a resolve before a step cancels it; a restart between steps keeps the schedule;
 * a lapse re-arms. Deadlines are generous and nothing asserts how fast; the punctuality of each step (how
 * late it fired against its `after`) is logged as a figure.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { signAckToken } from '../../src/channels/email/ack-link.js';
import type { IncidentFlags } from '../../src/domain/delivery-log.js';
import { deliveryIdOf, groupIdOf } from '../../src/domain/model.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { testConfig } from '../support/config.js';
import {
  deliveryEnv,
  mailsFor,
  metricsText,
  metricValue,
  ONCALL,
  post,
  rootsOf,
} from '../support/delivery.js';
import { DEFAULT_SLACK_CHANNELS, type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

const ACK_SECRET = 'ladder-test-ack-secret-0123456789';
const DUTY_MANAGER = 'duty-manager@coldchain.example';
const STEP_1_MS = 3000;
const STEP_2_MS = 6000;

/** Two steps: #dispatch-duty with a mention after 3 s, the duty manager's address after 6 s. */
function ladderPolicy(extra = ''): string {
  const route = {
    name: 'critical',
    matchers: ['severity="critical"'],
    slack: ['#alerts-critical'],
    email: ['oncall'],
    repeat: '1h',
    escalate: [
      { after: '3s', slack: ['#dispatch-duty'], mention: ['U0123ABCD'] },
      { after: '6s', email: [DUTY_MANAGER] },
    ],
  };
  return [
    'routes:',
    `  - ${JSON.stringify(route)}`,
    'fallback_route: critical',
    `delivery: ${JSON.stringify({ backoff: 0.2, max_backoff: 1, attempts: 3, slack_pace: 0.05, shutdown_grace: 1, slack_timeout: 30, smtp_timeout: 30 })}`,
    extra,
  ].join('\n');
}

let fake: FakeSlack;
let sink: SmtpSink;
const prefixes: string[] = [];
const relays: RunningRelay[] = [];
/** How late each step fired against its `after` (ms), for the report. */
const lateness: number[] = [];
const outboxes: string[] = [];

async function startLadderRelay(prefix: string, extra = ''): Promise<RunningRelay> {
  const relay = await startRelay(
    testConfig(prefix, { ...deliveryEnv(fake, sink), RELAY_ACK_SECRET: ACK_SECRET }, ladderPolicy(extra)),
  );
  relays.push(relay);
  return relay;
}

function newPrefix(name: string): string {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  return prefix;
}

const payloadFor = (tag: string): WebhookPayload => inGroup(fixture('firing-postgresql-down'), tag);
const resolvedFor = (tag: string): WebhookPayload => inGroup(fixture('resolved-postgresql-down'), tag);

function flagsOf(relay: RunningRelay, payload: WebhookPayload, incidentId: string): Promise<IncidentFlags> {
  return relay.deliveries.loadFlags(groupIdOf(payload.receiver, payload.groupKey), incidentId);
}

async function acknowledgeByLink(relay: RunningRelay, payload: WebhookPayload, incidentId: string) {
  const token = signAckToken(ACK_SECRET, {
    groupId: groupIdOf(payload.receiver, payload.groupKey),
    incidentId,
    who: ONCALL,
    exp: Math.floor(Date.now() / 1000) + 3600,
  });
  const res = await fetch(`${relay.url}/ack/${token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ name: 'Maria Jansen' }).toString(),
  });
  expect(res.status).toBe(200);
}

/** Thread replies under this incident's root in a channel. */
function threadTexts(channel: string, incidentId: string): string[] {
  const [root] = rootsOf(fake, incidentId, channel);
  return root ? fake.replies(root.ts).map((m) => m.text ?? '') : [];
}

async function recordLateness(relay: RunningRelay, payload: WebhookPayload, incidentId: string) {
  const snapshot = await relay.store.loadIncident(groupIdOf(payload.receiver, payload.groupKey), incidentId);
  const flags = await flagsOf(relay, payload, incidentId);
  const from = Math.max(snapshot!.startedAt, flags.ackLapses?.at(-1)?.at ?? 0);
  for (const step of flags.ladder?.steps ?? []) {
    const after = step.step === 0 ? STEP_1_MS : STEP_2_MS;
    // Steps taken before a lapse count from the first notification.
    const base = step.at >= from + after ? from : snapshot!.startedAt;
    lateness.push(step.at - base - after);
  }
}

beforeAll(async () => {
  [fake, sink] = await Promise.all([
    startFakeSlack({ channels: { ...DEFAULT_SLACK_CHANNELS, 'dispatch-duty': 'C0DISP' } }),
    startSmtpSink(),
  ]);
});

afterAll(async () => {
  for (const relay of relays) await relay.stop();
  await fake?.close();
  await sink?.close();
  for (const prefix of prefixes) await deletePrefix(prefix);
  for (const outbox of outboxes) rmSync(outbox, { recursive: true, force: true });
  if (lateness.length) {
    const sorted = [...lateness].sort((a, b) => a - b);
    console.info(
      `escalation punctuality over ${sorted.length} steps: median ${sorted[Math.floor(sorted.length / 2)]} ms late, max ${sorted.at(-1)} ms late`,
    );
  }
});

describe('the escalation ladder (issue 12)', () => {
  it('climbs two steps when unacknowledged; an acknowledged incident and a resolved one do not', async () => {
    const relay = await startLadderRelay(newPrefix('ladder'));
    const climbing = payloadFor('climbs');
    const acked = payloadFor('acked');
    const resolving = payloadFor('resolved');
    const [a, b, c] = await Promise.all([post(relay, climbing), post(relay, acked), post(relay, resolving)]);
    // Acknowledged and resolved at once, long before the first step's 3 s.
    await acknowledgeByLink(relay, acked, b.incidentId);
    await post(relay, resolvedFor('resolved'));

    // Before the first step, the firing message says what is ahead.
    await fake.waitFor(() => rootsOf(fake, a.incidentId, '#alerts-critical').length === 1, 30_000);
    expect(JSON.stringify(rootsOf(fake, a.incidentId, '#alerts-critical')[0]!.attachments)).toMatch(
      /unacknowledged \d+m, escalates to #dispatch-duty in \d+m/,
    );

    // Step 1: #dispatch-duty gets its own message (with the story), and the first thread hears of it.
    await fake.waitFor(() => rootsOf(fake, a.incidentId, '#dispatch-duty').length === 1, 30_000);
    await pollUntil(
      () =>
        threadTexts('#alerts-critical', a.incidentId).some((t) => t.includes('Escalated to #dispatch-duty')),
      30_000,
      () => `the escalation reply; thread: ${JSON.stringify(threadTexts('#alerts-critical', a.incidentId))}`,
    );
    const reply = threadTexts('#alerts-critical', a.incidentId).find((t) => t.includes('Escalated to'))!;
    expect(reply).toContain('after 3s without acknowledgement');
    expect(reply).toContain('<@U0123ABCD>');
    const dispatchRoot = JSON.stringify(rootsOf(fake, a.incidentId, '#dispatch-duty')[0]!.attachments);
    expect(dispatchRoot).toContain('Escalated to #dispatch-duty');

    // Step 2: the duty manager is mailed, with the story so far in the first mail; the on-call list's
    // thread gets both escalations as mails in its thread.
    await sink.waitFor(() => mailsFor(sink, a.incidentId, DUTY_MANAGER).length === 1, 30_000);
    const first = mailsFor(sink, a.incidentId, DUTY_MANAGER)[0]!;
    expect(first.text).toContain('Escalated to #dispatch-duty');
    expect(first.text).toContain(`Escalated to ${DUTY_MANAGER}`);
    await sink.waitFor(
      () => mailsFor(sink, a.incidentId).filter((m) => m.text?.includes('Escalated to')).length === 2,
      30_000,
    );
    const oncallMails = mailsFor(sink, a.incidentId);
    for (const mail of oncallMails.slice(1)) expect(mail.references).toContain(oncallMails[0]!.messageId);

    const flags = await flagsOf(relay, climbing, a.incidentId);
    expect(flags.ladder?.steps.map((s) => s.step)).toEqual([0, 1]);
    expect(flags.ladder?.steps[1]?.targets).toEqual([DUTY_MANAGER]);
    await recordLateness(relay, climbing, a.incidentId);

    // The acknowledged and the resolved incident were due at 3 s too, before step 2 above: no step taken.
    expect((await flagsOf(relay, acked, b.incidentId)).ladder).toBeUndefined();
    expect((await flagsOf(relay, resolving, c.incidentId)).ladder).toBeUndefined();
    expect(rootsOf(fake, b.incidentId, '#dispatch-duty')).toHaveLength(0);
    expect(rootsOf(fake, c.incidentId, '#dispatch-duty')).toHaveLength(0);
    expect(mailsFor(sink, b.incidentId, DUTY_MANAGER)).toHaveLength(0);

    // The acknowledgement from the email link credits the person who gave it.
    const api = await fetch(`${relay.url}/api/incidents/${b.incidentId}`);
    const timeline = ((await api.json()) as { timeline: { event: string; detail: string }[] }).timeline;
    expect(timeline).toContainEqual(
      expect.objectContaining({ event: 'acknowledged', detail: 'by Maria Jansen (email link)' }),
    );
    const escalated = await (await fetch(`${relay.url}/api/incidents/${a.incidentId}`)).json();
    const steps = (escalated as { timeline: { event: string; detail: string }[] }).timeline.filter(
      (e) => e.event === 'escalated',
    );
    expect(steps.map((e) => e.detail)).toEqual([
      'Escalated to #dispatch-duty after 3s without acknowledgement',
      `Escalated to ${DUTY_MANAGER} after 6s without acknowledgement`,
    ]);

    const metrics = await metricsText(relay);
    expect(metricValue(metrics, 'relay_escalations_total', { route: 'critical', step: '1' })).toBe(1);
    expect(metricValue(metrics, 'relay_escalations_total', { route: 'critical', step: '2' })).toBe(1);
    expect(metricValue(metrics, 'relay_ack_seconds_count')).toBe(1);
  }, 90_000);

  it('keeps the schedule across a restart between steps', async () => {
    const prefix = newPrefix('ladder-restart');
    const first = await startLadderRelay(prefix);
    const payload = payloadFor('restart');
    const { incidentId } = await post(first, payload);
    await pollUntil(
      async () => (await flagsOf(first, payload, incidentId)).ladder?.steps.length === 1,
      30_000,
      () => 'the first step',
    );
    await first.stop();

    // A new relay on the same prefix: the second step is a delayed job in Redis, not a timer in the old one.
    const second = await startLadderRelay(prefix);
    await sink.waitFor(() => mailsFor(sink, incidentId, DUTY_MANAGER).length === 1, 30_000);
    const flags = await flagsOf(second, payload, incidentId);
    expect(flags.ladder?.steps.map((s) => s.step)).toEqual([0, 1]);
    expect(rootsOf(fake, incidentId, '#dispatch-duty')).toHaveLength(1);
    await recordLateness(second, payload, incidentId);
  }, 60_000);

  it('re-arms after ack_timeout: the lapse is said in the thread and the ladder resumes from it', async () => {
    const relay = await startLadderRelay(newPrefix('ladder-lapse'), 'ack_timeout: 2s');
    const payload = payloadFor('lapse');
    const { incidentId } = await post(relay, payload);
    await acknowledgeByLink(relay, payload, incidentId);

    await pollUntil(
      () => threadTexts('#alerts-critical', incidentId).some((t) => t.includes('lapsed')),
      30_000,
      () => `the lapse reply; thread: ${JSON.stringify(threadTexts('#alerts-critical', incidentId))}`,
    );
    expect(threadTexts('#alerts-critical', incidentId).find((t) => t.includes('lapsed'))).toContain(
      'Acknowledgement by Maria Jansen lapsed',
    );
    await fake.waitFor(() => rootsOf(fake, incidentId, '#dispatch-duty').length === 1, 30_000);
    // The on-call list hears the lapse in its mail thread too.
    await sink.waitFor(() => mailsFor(sink, incidentId).some((m) => m.text?.includes('lapsed')), 30_000);
    const flags = await flagsOf(relay, payload, incidentId);
    const lapse = flags.ackLapses?.[0];
    expect(lapse?.by).toBe('Maria Jansen');
    // The first step counts from the lapse, not from the first notification.
    expect(flags.ladder?.steps[0]?.at).toBeGreaterThanOrEqual(lapse!.at + STEP_1_MS);
    await recordLateness(relay, payload, incidentId);
  }, 60_000);

  it("routes a step's destinations by the normal rules: Slack preview to the outbox, a refused address dead-lettered alone", async () => {
    const outbox = mkdtempSync(join(tmpdir(), 'relay-ladder-outbox-'));
    outboxes.push(outbox);
    const prefix = newPrefix('ladder-rules');
    // No Slack token: Slack runs in preview (files in the outbox); mail goes to the sink, which refuses the
    // duty manager's address for good.
    const { SLACK_BOT_TOKEN: _token, SLACK_API_URL: _url, ...env } = deliveryEnv(fake, sink);
    const relay = await startRelay(
      testConfig(prefix, { ...env, RELAY_ACK_SECRET: ACK_SECRET, RELAY_OUTBOX_DIR: outbox }, ladderPolicy()),
    );
    relays.push(relay);
    sink.failNext({ code: 550, to: DUTY_MANAGER }, 3);
    const payload = payloadFor('rules');
    const { incidentId } = await post(relay, payload);

    const previewed = () =>
      readdirSync(join(outbox, 'slack'))
        .map(
          (f) =>
            JSON.parse(readFileSync(join(outbox, 'slack', f), 'utf8')) as {
              method: string;
              args: { channel: string; thread_ts?: string; text?: string };
            },
        )
        .filter((c) => c.method === 'chat.postMessage' && JSON.stringify(c).includes(incidentId));
    await pollUntil(
      () => previewed().some((c) => c.args.channel === '#dispatch-duty' && !c.args.thread_ts),
      30_000,
      () => 'the step 1 root in the outbox',
    );
    const failedEmail = async () =>
      (await relay.queue.queues.email.getJobs(['failed'])).filter((j) => j.data.incidentId === incidentId);
    await pollUntil(
      async () => (await failedEmail()).length === 1,
      30_000,
      () => 'the dead letter',
    );
    const [dead] = await failedEmail();
    expect(dead!.data.deliveryId).toBe(deliveryIdOf('email', DUTY_MANAGER));
    expect(dead!.failedReason).toContain('550');
    // The on-call list's mail thread still hears both steps.
    await sink.waitFor(
      () => mailsFor(sink, incidentId).filter((m) => m.text?.includes('Escalated to')).length === 2,
      30_000,
    );
    const metrics = await metricsText(relay);
    expect(metricValue(metrics, 'relay_dead_letters_total', { channel: 'email' })).toBe(1);
    expect(metricValue(metrics, 'relay_escalations_total', { route: 'critical', step: '2' })).toBe(1);
    await recordLateness(relay, payload, incidentId);
  }, 60_000);
});
