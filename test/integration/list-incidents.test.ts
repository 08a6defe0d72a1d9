/**
 * listIncidents over real Redis: the work per request is bounded (a filter matching nothing answers after
 * MAX_SCAN index entries with a cursor to go on), index entries whose snapshot expired are skipped, and a
 * cursor taken from the open set pages on correctly.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import { InvalidCursorError, listIncidents, MAX_SCAN } from '../../src/incidents/list-incidents.js';
import { RedisAlertStore } from '../../src/store/alert-store.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { IncidentIndex, incidentIndexKeys } from '../../src/store/incident-index.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';

const prefix = uniquePrefix('list-incidents');
const redis = new Redis(REDIS_URL);
const alerts = new RedisAlertStore(redis, { prefix, retentionSeconds: 3600 });
const deps = {
  index: new IncidentIndex(redis, prefix),
  alerts,
  deliveries: new DeliveryStore(redis, prefix, 3600),
};

afterAll(async () => {
  redis.disconnect();
  await deletePrefix(prefix);
});

describe('listIncidents', () => {
  it('reads at most MAX_SCAN index entries per request, skipping expired ones, and goes on from its cursor', async () => {
    const T0 = Date.now() - 3_600_000;
    // One real incident, older than a long run of index entries whose snapshots are gone.
    const snapshot = mergeWebhook(
      undefined,
      inGroup(fixture('firing-reefer-excursion'), 'bound'),
      T0,
    ).snapshot;
    await alerts.commitGroup(snapshot, '', false);
    await alerts.finishCommit(snapshot, '1');
    const keys = incidentIndexKeys(prefix);
    const ghosts = MAX_SCAN + 20;
    const batch = redis.multi();
    for (let n = 0; n < ghosts; n++) batch.zadd(keys.all, T0 + 1 + n, `ghost${n}/gone${n}`);
    await batch.exec();

    const first = await listIncidents({ limit: 5 }, deps);
    expect(first.items).toEqual([]);
    expect(first.nextCursor).toBeDefined();
    const second = await listIncidents({ limit: 5, cursor: first.nextCursor }, deps);
    expect(second.items.map((i) => i.id)).toEqual([snapshot.incidentId]);
    expect(second.nextCursor).toBeUndefined();

    // The open set holds only the real incident: a firing filter finds it at once.
    const open = await listIncidents({ limit: 5, status: 'firing' }, deps);
    expect(open.items.map((i) => i.id)).toEqual([snapshot.incidentId]);
    expect(open.nextCursor).toBeUndefined();
  });

  it('refuses a cursor it did not make', async () => {
    await expect(listIncidents({ limit: 5, cursor: 'bm9wZQ' }, deps)).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
  });
});
