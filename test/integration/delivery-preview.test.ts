/**
 * Preview mode (DESIGN.md §Preview mode): no Slack token and no SMTP URL, so both channels run the whole
 * pipeline into RELAY_OUTBOX_DIR: one JSON file per Slack call, with a synthetic channel id and ts so updates
 * and thread replies address the message they would have, and one .eml per mail, threaded like real ones.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { testConfig } from '../support/config.js';
import {
  CRITICAL,
  deliveryLog,
  metricsText,
  metricValue,
  ONCALL,
  policyYaml,
  post,
  sleep,
} from '../support/delivery.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';

const prefix = uniquePrefix('delivery-preview');
const outbox = mkdtempSync(join(tmpdir(), 'relay-outbox-'));
let relay: RunningRelay;

interface SlackFile {
  method: string;
  args: {
    channel: string;
    ts?: string;
    thread_ts?: string;
    text: string;
    attachments?: { blocks: unknown[] }[];
  };
  response: { ok: boolean; channel: string; ts: string };
}

beforeAll(async () => {
  relay = await startRelay(
    testConfig(
      prefix,
      { RELAY_OUTBOX_DIR: outbox, RELAY_ONCALL_EMAIL: ONCALL },
      policyYaml({ criticalRepeat: '1h', delivery: { stale_after: 600 } }),
    ),
  );
});

afterAll(async () => {
  await relay?.stop();
  await deletePrefix(prefix);
  rmSync(outbox, { recursive: true, force: true });
});

function slackFiles(): SlackFile[] {
  const dir = join(outbox, 'slack');
  return readdirSync(dir)
    .sort()
    .map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as SlackFile);
}

function emlFiles(): string[] {
  const dir = join(outbox, 'email');
  return readdirSync(dir)
    .sort()
    .map((name) => readFileSync(join(dir, name), 'utf8'));
}

async function waitUntil(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline)
      throw new Error(
        `outbox: timed out; slack ${JSON.stringify(slackFiles().map((f) => f.method))}, ${emlFiles().length} mails`,
      );
    await sleep(25);
  }
}

describe('preview mode', () => {
  it('writes every Slack call and every mail to the outbox, updates and threads included, and says so in /metrics', async () => {
    const metrics = await metricsText(relay);
    expect(metricValue(metrics, 'relay_preview_mode', { channel: 'slack' })).toBe(1);
    expect(metricValue(metrics, 'relay_preview_mode', { channel: 'email' })).toBe(1);

    const firing = inGroup(fixture('firing-postgresql-down'), 'preview');
    const { incidentId } = await post(relay, firing);
    await waitUntil(
      () => slackFiles().some((f) => f.method === 'chat.postMessage') && emlFiles().length === 1,
    );
    await post(relay, inGroup(fixture('resolved-postgresql-down'), 'preview'));
    await waitUntil(
      () => slackFiles().some((f) => f.args.thread_ts !== undefined) && emlFiles().length === 2,
    );
    await sleep(300);

    const files = slackFiles();
    const roots = files.filter((f) => f.method === 'chat.postMessage' && !f.args.thread_ts);
    expect(roots).toHaveLength(1);
    const root = roots[0]!;
    expect(root.args.channel).toBe(CRITICAL);
    expect(JSON.stringify(root.args.attachments)).toContain(incidentId);
    expect(root.response.ok).toBe(true);
    expect(root.response.channel).toMatch(/^C[0-9A-Z]+$/);
    expect(root.response.ts).toMatch(/^\d+\.\d+$/);

    // The resolve updates the root by its synthetic id and ts, and replies in its thread.
    const updates = files.filter((f) => f.method === 'chat.update');
    expect(updates.length).toBeGreaterThanOrEqual(1);
    for (const update of updates) {
      expect(update.args.ts).toBe(root.response.ts);
      expect(update.args.channel).toBe(root.response.channel);
    }
    expect(JSON.stringify(updates.at(-1)!.args.attachments)).toContain('RESOLVED');
    const replies = files.filter((f) => f.method === 'chat.postMessage' && f.args.thread_ts);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.args.thread_ts).toBe(root.response.ts);
    expect(replies[0]!.args.channel).toBe(root.response.channel);
    expect(replies[0]!.args.text).toContain('Resolved after');

    const [first, resolved] = await Promise.all(emlFiles().map((text) => simpleParser(text)));
    expect(first!.subject).toBe('[CRITICAL] PostgreSQLDown · postgresql');
    expect((first!.to as { text: string }).text).toBe(ONCALL);
    expect(first!.html).toContain('PostgreSQL is down');
    expect(resolved!.subject).toBe(`Re: ${first!.subject}`);
    expect(resolved!.inReplyTo).toBe(first!.messageId);

    const slackLog = await deliveryLog(relay, firing, incidentId, 'slack', CRITICAL);
    expect(slackLog.lastOutcome).toBe('previewed');
    expect(slackLog.root).toMatchObject({ channel: root.response.channel, ts: root.response.ts });
    expect((await deliveryLog(relay, firing, incidentId, 'email', ONCALL)).lastOutcome).toBe('previewed');
    const after = await metricsText(relay);
    expect(metricValue(after, 'relay_deliveries_total', { channel: 'slack', outcome: 'previewed' })).toBe(2);
    expect(metricValue(after, 'relay_deliveries_total', { channel: 'email', outcome: 'previewed' })).toBe(2);
    expect(metricValue(after, 'relay_deliveries_total', { channel: 'slack', outcome: 'delivered' })).toBe(0);
  });
});
