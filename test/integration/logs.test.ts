/**
 * Logs: one JSON object per line with a request id; no token and no payload at info level; a label value
 * cannot forge a log line (it is always a JSON string value, newlines escaped).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { createLogger } from '../../src/observability/logger.js';
import { testConfig } from '../support/config.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { postJson } from '../support/http.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';

const prefix = uniquePrefix('logs');
const TOKEN = 'secret-webhook-token-do-not-log';
const lines: string[] = [];
let relay: RunningRelay;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  relay = await startRelay(testConfig(prefix, { RELAY_WEBHOOK_TOKEN: TOKEN, RELAY_ROLE: 'api' }), {
    logger: createLogger('info', sink),
  });
});

afterAll(async () => {
  await relay?.stop();
  await deletePrefix(prefix);
});

describe('logs', () => {
  it('are JSON lines with request ids, without the token or the payload, unforgeable by label values', async () => {
    const payload = inGroup(fixture('firing-high-cpu'), 'logs');
    const forged = 'x"}\n{"level":50,"msg":"FORGED"}\n';
    payload.alerts[0]!.labels = { ...payload.alerts[0]!.labels, instance: forged };
    payload.commonLabels = { ...payload.commonLabels, instance: forged };
    const ok = await postJson(`${relay.url}/webhook/alertmanager`, payload, {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(ok.status).toBe(200);
    const refused = await postJson(`${relay.url}/webhook/alertmanager`, payload, {
      authorization: 'Bearer wrong-token-value',
    });
    expect(refused.status).toBe(401);

    const parsed = lines.map(
      (line) => JSON.parse(line) as { level: number; msg: string; requestId?: string },
    );
    expect(parsed.some((l) => l.msg === 'FORGED')).toBe(false);
    const requestLines = parsed.filter((l) => l.msg === 'webhook accepted' || l.msg === 'webhook rejected');
    expect(requestLines).toHaveLength(2);
    for (const line of requestLines) expect(line.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const all = lines.join('\n');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('wrong-token-value');
    expect(all).not.toContain('CPU > 80%'); // the payload's annotations stay out of info logs
  });
});
