/**
 * REDIS_MIN_REPLICAS (DESIGN.md §Scaling past one machine): a webhook is answered 2xx only once WAIT confirms
 * its commit reached that many replicas; with too few replicas it is answered 503 (Alertmanager retries),
 * /readyz says why and relay_redis_replicas shows it. A real master and a real replica, no Sentinel.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/app/relay.js';
import { decodeEntry, writeAheadKey } from '../../src/enqueue/write-ahead.js';
import { metricsText, metricValue, rootsOf, startDeliveryRelay, startHarness } from '../support/delivery.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { postJson } from '../support/http.js';
import { pollUntil } from '../support/poll.js';
import { uniquePrefix } from '../support/redis.js';
import { type RedisProcess, replicationInfo, startRedisNode } from '../support/redis-topology.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-replicas-'));
let master: RedisProcess;
let replica: RedisProcess;
let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;

async function replicaInSync(): Promise<boolean> {
  const info = await replicationInfo(master);
  // Online and acknowledging: a replica that just finished its initial sync has acked offset 0 so far.
  return info.connected_slaves === '1' && /state=online,offset=[1-9]/.test(info.slave0 ?? '');
}

beforeAll(async () => {
  master = await startRedisNode(dir);
  replica = await startRedisNode(dir, master);
  await pollUntil(replicaInSync, 30_000, () => 'the replica did not sync with the master', 50);
  ({ fake, sink } = await startHarness());
  relay = await startDeliveryRelay(
    uniquePrefix('replicas'),
    fake,
    sink,
    { criticalRepeat: '1h' },
    {},
    { REDIS_URL: master.url, REDIS_MIN_REPLICAS: '1' },
  );
});

afterAll(async () => {
  await relay?.stop();
  await Promise.all([fake?.close(), sink?.close(), replica?.kill(), master?.kill()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('REDIS_MIN_REPLICAS=1', () => {
  it('answers 2xx once the replica holds the commit, and the replica has the incident and its jobs', async () => {
    const payload = inGroup(fixture('firing-reefer-excursion'), 'replicated');
    const res = await postJson(`${relay.url}/webhook/alertmanager`, payload);
    expect(res.status, res.body).toBe(200);
    const { incidentId } = res.json() as { incidentId: string };
    // Read from the replica itself: what the 2xx promised is there without waiting.
    const onReplica = replica.client();
    try {
      const keys = await onReplica.keys(`*${incidentId}*`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      onReplica.disconnect();
    }
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(200);
    const metrics = await metricsText(relay);
    expect(metricValue(metrics, 'relay_redis_min_replicas')).toBe(1);
    expect(metricValue(metrics, 'relay_redis_replicas')).toBe(1);
    await pollUntil(
      () => rootsOf(fake, incidentId).length === 1,
      20_000,
      () => 'no Slack message',
    );
  });

  it('confirms concurrent webhooks together, each one only once the replica holds it', async () => {
    const payloads = Array.from({ length: 20 }, (_, i) =>
      inGroup(fixture('firing-reefer-excursion'), `burst-${i}`),
    );
    const answers = await Promise.all(payloads.map((p) => postJson(`${relay.url}/webhook/alertmanager`, p)));
    expect(answers.map((a) => a.status)).toEqual(payloads.map(() => 200));
    const onReplica = replica.client();
    try {
      for (const answer of answers) {
        const { incidentId } = answer.json() as { incidentId: string };
        expect(await onReplica.keys(`*${incidentId}*`), incidentId).not.toHaveLength(0);
      }
    } finally {
      onReplica.disconnect();
    }
  });

  it('has the write-ahead entry (the jobs) on the replica at the 2xx, before any pump ran', async () => {
    // The api role alone: no pump takes the entry, so what the replica holds is what the commit wrote.
    const prefix = uniquePrefix('replicas-api');
    const api = await startDeliveryRelay(
      prefix,
      fake,
      sink,
      { criticalRepeat: '1h' },
      {},
      { REDIS_URL: master.url, REDIS_MIN_REPLICAS: '1', RELAY_ROLE: 'api' },
    );
    const onReplica = replica.client();
    try {
      const payloads = Array.from({ length: 10 }, (_, i) =>
        inGroup(fixture('firing-reefer-excursion'), `wal-${i}`),
      );
      const answers = await Promise.all(payloads.map((p) => postJson(`${api.url}/webhook/alertmanager`, p)));
      expect(answers.map((a) => a.status)).toEqual(payloads.map(() => 200));
      const entries = await onReplica.xrange(writeAheadKey(prefix), '-', '+');
      for (const answer of answers) {
        const { incidentId } = answer.json() as { incidentId: string };
        const entry = entries.find(
          ([, fields]) => decodeEntry(fields[3] ?? '{"d":[]}')[0]?.incidentId === incidentId,
        );
        expect(entry, incidentId).toBeDefined();
        expect(
          decodeEntry(entry?.[1][3] ?? '')
            .map((j) => j.kind)
            .sort(),
        ).toEqual(['email', 'slack']);
        expect(await onReplica.keys(`*:incident:${incidentId}`), incidentId).toHaveLength(1);
      }
    } finally {
      onReplica.disconnect();
      await api.stop();
    }
  });

  it('answers 503 while the replica is down, says so in /readyz and the metric, and accepts the retry once it is back', async () => {
    await replica.kill('SIGKILL');
    await pollUntil(
      async () => !(await replicaInSync()),
      20_000,
      () => 'the master still lists the replica',
    );

    const payload = inGroup(fixture('firing-reefer-excursion'), 'unreplicated');
    const refused = await postJson(`${relay.url}/webhook/alertmanager`, payload);
    expect(refused.status, refused.body).toBe(503);
    expect(refused.body).toContain('REDIS_MIN_REPLICAS');

    const ready = await fetch(`${relay.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/0 of REDIS_MIN_REPLICAS=1 Redis replicas are connected/);
    const metrics = await metricsText(relay);
    expect(metricValue(metrics, 'relay_redis_replicas')).toBe(0);
    expect(metricValue(metrics, 'relay_requests_rejected_total', { reason: 'replicas' })).toBeGreaterThan(0);

    await replica.start();
    await pollUntil(replicaInSync, 30_000, () => 'the replica did not come back in sync', 50);
    // Alertmanager's retry: accepted now, and the incident is delivered once.
    let incidentId = '';
    await pollUntil(
      async () => {
        const res = await postJson(`${relay.url}/webhook/alertmanager`, payload);
        if (res.status === 200) incidentId = (res.json() as { incidentId: string }).incidentId;
        return res.status === 200;
      },
      20_000,
      () => 'the retry was not accepted after the replica came back',
      200,
    );
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(200);
    await pollUntil(
      () => rootsOf(fake, incidentId).length === 1,
      20_000,
      () => 'no Slack message',
    );
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
  });
});
