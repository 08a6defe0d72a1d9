/** The incident index is written with the commit's bookkeeping and pages newest first without losing ties. */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { IncidentSnapshot } from '../../src/domain/model.js';
import { RedisAlertStore } from '../../src/store/alert-store.js';
import { IncidentIndex } from '../../src/store/incident-index.js';
import { REDIS_URL } from '../support/redis.js';

const prefix = `idx${process.pid}${Date.now().toString(36)}`;
const redis = new Redis(REDIS_URL);
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

function snapshot(n: number, startedAt: number, status: 'firing' | 'resolved'): IncidentSnapshot {
  return {
    incidentId: `i${n}`,
    groupId: `g${n}`,
    receiver: 'relay',
    groupKey: `{}:{n="${n}"}`,
    startedAt,
    status,
    truncatedAlerts: 0,
    alerts: [],
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://am',
    lastSeenAt: startedAt,
    severity: 'critical',
    deliveries: [],
  };
}

describe('incident index', () => {
  it('lists every committed incident newest first, pages through ties, and keeps only firing ones open', async () => {
    const store = new RedisAlertStore(redis, { prefix, retentionSeconds: 3600 });
    const index = new IncidentIndex(redis, prefix);
    const now = Date.now();
    // Five incidents, three sharing one start time, so paging must break ties by member.
    const starts = [now - 5000, now - 4000, now - 4000, now - 4000, now - 1000];
    for (const [n, at] of starts.entries()) {
      const s = snapshot(n, at, 'firing');
      const rev = await store.commitGroup(s, '', true);
      await store.finishCommit(s, rev as string);
    }
    const resolved = snapshot(1, starts[1] as number, 'resolved');
    await store.finishCommit(resolved, '2');

    const seen: string[] = [];
    let after: { startedAt: number; member: string } | undefined;
    for (;;) {
      const page = await index.newest({ limit: 2, ...(after ? { after } : {}) });
      if (page.length === 0) break;
      seen.push(...page.map((r) => r.incidentId));
      const last = page[page.length - 1]!;
      after = { startedAt: last.startedAt, member: `${last.groupId}/${last.incidentId}` };
    }
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect(seen[0]).toBe('i4');
    expect(seen[4]).toBe('i0');
    expect((await index.open()).map((r) => r.incidentId).sort()).toEqual(['i0', 'i2', 'i3', 'i4']);
    expect(await store.findGroupOfIncident('i3')).toBe('g3');
  });

  it('pages through more ties than one read returns (a burst gives many incidents one start time)', async () => {
    const tiePrefix = `${prefix}-ties`;
    const store = new RedisAlertStore(redis, { prefix: tiePrefix, retentionSeconds: 3600 });
    const index = new IncidentIndex(redis, tiePrefix);
    const at = Date.now();
    for (let n = 0; n < 150; n++) {
      const s = snapshot(n, at, 'firing');
      await store.finishCommit(s, '1');
    }
    const seen: string[] = [];
    let after: { startedAt: number; member: string } | undefined;
    for (let pages = 0; pages < 200; pages++) {
      const page = await index.newest({ limit: 1, ...(after ? { after } : {}) });
      if (page.length === 0) break;
      seen.push(page[0]!.incidentId);
      after = { startedAt: at, member: `${page[0]!.groupId}/${page[0]!.incidentId}` };
    }
    expect(seen).toHaveLength(150);
    expect(new Set(seen).size).toBe(150);
    const keys = await redis.keys(`${tiePrefix}:*`);
    if (keys.length) await redis.del(...keys);
  });
});
