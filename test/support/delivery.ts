/**
 * A whole relay wired to the fake Slack server and the SMTP sink, for the delivery integration tests: real
 * Redis (own prefix), real BullMQ worker, real WebClient and nodemailer. Policies use short intervals so
 * reminders, staleness and retries happen within seconds.
 */

import { type RelayOptions, type RunningRelay, startRelay } from '../../src/app/relay.js';
import type { DeliveryLog } from '../../src/domain/delivery-log.js';
import { deliveryIdOf, groupIdOf } from '../../src/domain/model.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { testConfig } from './config.js';
import { type FakeSlack, type FakeSlackMessage, type SlackCall, startFakeSlack } from './fake-slack.js';
import { postJson } from './http.js';
import { routingPolicy } from './policy.js';
import { pollUntil } from './poll.js';
import { type ReceivedMail, type SmtpSink, startSmtpSink } from './smtp-sink.js';

export const ONCALL = 'oncall@coldchain.example';
export const CRITICAL = '#alerts-critical';
export const WARNING = '#alerts-warning';

export interface PolicyOptions {
  /** Reminder interval of the critical route (the warning route reminds hourly, info never). */
  criticalRepeat?: string;
  /** Merged into `delivery:`. */
  delivery?: Record<string, number | boolean | string>;
  /** Every route's `storm:` (issue 14). */
  storm?: { threshold: number; window: string };
}

export function policyYaml(options: PolicyOptions = {}): string {
  const delivery = {
    backoff: 0.2,
    max_backoff: 1,
    attempts: 3,
    slack_pace: 0.2,
    stale_after: 4,
    shutdown_grace: 1,
    // Generous on purpose: a healthy send must never depend on the machine's speed. A test that injects a
    // fake that hangs sets a short timeout of its own.
    slack_timeout: 30,
    smtp_timeout: 30,
    ...options.delivery,
  };
  return routingPolicy({
    critical: { slack: CRITICAL, email: true, repeat: options.criticalRepeat ?? '2s' },
    warning: { slack: WARNING },
    info: { slack: '#alerts-info' },
    delivery,
    ...(options.storm ? { storm: options.storm } : {}),
  });
}

export function deliveryEnv(fake: FakeSlack, sink: SmtpSink): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_API_URL: fake.url,
    SMTP_URL: sink.url,
    RELAY_ONCALL_EMAIL: ONCALL,
  };
}

export async function startHarness(): Promise<{ fake: FakeSlack; sink: SmtpSink }> {
  const [fake, sink] = await Promise.all([startFakeSlack(), startSmtpSink()]);
  return { fake, sink };
}

export function startDeliveryRelay(
  prefix: string,
  fake: FakeSlack,
  sink: SmtpSink,
  policy: PolicyOptions = {},
  options: RelayOptions = {},
  env: Record<string, string> = {},
): Promise<RunningRelay> {
  return startRelay(testConfig(prefix, { ...deliveryEnv(fake, sink), ...env }, policyYaml(policy)), options);
}

/** Posts a webhook and returns the incident id, failing loudly on anything but 200. */
export async function post(
  relay: RunningRelay,
  payload: WebhookPayload,
): Promise<{ incidentId: string; status: string }> {
  const res = await postJson(`${relay.url}/webhook/alertmanager`, payload);
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${res.body}`);
  return res.json() as { incidentId: string; status: string };
}

export async function deliveryLog(
  relay: RunningRelay,
  payload: Pick<WebhookPayload, 'receiver' | 'groupKey'>,
  incidentId: string,
  kind: 'slack' | 'email',
  target: string,
): Promise<DeliveryLog> {
  return relay.deliveries.loadLog(
    groupIdOf(payload.receiver, payload.groupKey),
    incidentId,
    deliveryIdOf(kind, target),
  );
}

/**
 * Every text string of a Slack message: top-level text, attachment fallbacks, section, header and context
 * texts (Slack treats &, <, > as control characters in plain_text objects too).
 */
export function slackTexts(
  message: Pick<FakeSlackMessage, 'text' | 'attachments' | 'blocks'> | Record<string, unknown>,
): string[] {
  const out: string[] = [];
  const m = message as { text?: unknown; attachments?: unknown; blocks?: unknown };
  if (typeof m.text === 'string') out.push(m.text);
  const visit = (block: unknown) => {
    const b = block as {
      type?: string;
      text?: { type?: string; text?: string };
      elements?: { type?: string; text?: string }[];
      fields?: { text?: string }[];
    };
    if (b.text?.text !== undefined) out.push(b.text.text);
    for (const e of b.elements ?? []) if (e.text !== undefined) out.push(e.text);
    for (const f of b.fields ?? []) if (f.text !== undefined) out.push(f.text);
  };
  for (const a of (Array.isArray(m.attachments) ? m.attachments : []) as {
    fallback?: string;
    text?: string;
    blocks?: unknown[];
  }[]) {
    if (a.fallback) out.push(a.fallback);
    if (a.text) out.push(a.text);
    for (const b of a.blocks ?? []) visit(b);
  }
  for (const b of (Array.isArray(m.blocks) ? m.blocks : []) as unknown[]) visit(b);
  return out;
}

/** The header block's plain text of a root message (attachments[0].blocks[0]). */
export function headerOf(message: Pick<FakeSlackMessage, 'attachments'>): string | undefined {
  const blocks = (
    message.attachments?.[0] as { blocks?: { type: string; text?: { text: string } }[] } | undefined
  )?.blocks;
  return blocks?.find((b) => b.type === 'header')?.text?.text;
}

/** Top-level messages that carry this incident's id (the root message's context block names it). */
export function rootsOf(fake: FakeSlack, incidentId: string, channel?: string): FakeSlackMessage[] {
  return fake
    .topLevelMessages(channel)
    .filter((m) => JSON.stringify(m.attachments ?? []).includes(incidentId));
}

/** Calls that carried this incident's id or were posted into the thread of one of its roots. */
export function callsFor(fake: FakeSlack, incidentId: string, rootTs: string[]): SlackCall[] {
  return fake.calls.filter(
    (c) =>
      JSON.stringify(c.body).includes(incidentId) ||
      rootTs.includes(String(c.body.thread_ts ?? '')) ||
      rootTs.includes(String(c.body.ts ?? '')),
  );
}

export function mailsFor(sink: SmtpSink, incidentId: string, to = ONCALL): ReceivedMail[] {
  return sink.messages.filter((m) => m.headers.get('x-relay-incident') === incidentId && m.to.includes(to));
}

export async function metricsText(relay: RunningRelay): Promise<string> {
  return (await fetch(`${relay.url}/metrics`)).text();
}

/** The value of one sample in Prometheus text format, 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.slice(name.length).match(/^\{([^}]*)\}/)?.[1] ?? '';
    const have = labelPart ? labelPart.split(',') : [];
    if (wanted.every((w) => have.includes(w))) return Number(line.split(' ').at(-1));
  }
  return 0;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fixture payload as a plain copy that a test may edit freely. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * The payload with every alert started at `startsAt` (see minutesAgo). Escalation depends on how much of a
 * cargo's excursion budget has passed, so tests that expect one must not depend on the fixtures' capture date.
 */
export function startedAgo<T extends { alerts: { startsAt: string }[] }>(payload: T, startsAt: string): T {
  const copy = structuredClone(payload);
  for (const alert of copy.alerts) alert.startsAt = startsAt;
  return copy;
}

export const minutesAgo = (minutes: number) =>
  new Date(Date.now() - minutes * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Waits until no delivery job is waiting, running, or delayed and due within `dueWithinMs` (hour-long
 * reminders do not count; a retry's backoff or a paced wait does). A job moves from active to delayed to
 * waiting between the separate reads of one look and could slip past all of them once, so idle must be
 * seen by two looks in a row.
 */
export async function waitForIdle(
  relay: RunningRelay,
  { dueWithinMs = 30_000, timeoutMs = 30_000 }: { dueWithinMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const running = async () => {
    const counts = await relay.queue.getJobCounts('waiting', 'active', 'prioritized');
    return Boolean(counts.waiting || counts.active || counts.prioritized);
  };
  const busy = async () => {
    if (await running()) return true;
    const delayed = await relay.queue.getJobs(['delayed']);
    if (delayed.some((j) => j.timestamp + (j.opts.delay ?? 0) <= Date.now() + dueWithinMs)) return true;
    return running();
  };
  let idleLooks = 0;
  await pollUntil(
    async () => {
      idleLooks = (await busy()) ? 0 : idleLooks + 1;
      return idleLooks >= 2;
    },
    timeoutMs,
    () => 'the delivery queues to be idle',
    50,
  );
}
