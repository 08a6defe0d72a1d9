import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisContextCache, HttpContextProvider } from '../../src/context/index.js';
import { type FakeDispatchApi, startFakeDispatchApi } from './fake-dispatch-api.js';

// The real Redis the relay uses in development; every key lives under a unique prefix and is removed after.
const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 });
const prefix = `test:context:${randomUUID()}:`;
let api: FakeDispatchApi;

beforeAll(async () => {
  api = await startFakeDispatchApi();
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await api.close();
});

describe('createRedisContextCache', () => {
  it('stores values under its prefix with a TTL', async () => {
    const cache = createRedisContextCache(redis, prefix);
    expect(await cache.get('vehicles:TRK-0042')).toBeUndefined();
    await cache.set('vehicles:TRK-0042', '{"id":"TRK-0042"}', 30);
    expect(await cache.get('vehicles:TRK-0042')).toBe('{"id":"TRK-0042"}');
    expect(await redis.get(`${prefix}vehicles:TRK-0042`)).toBe('{"id":"TRK-0042"}');
    const ttl = await redis.ttl(`${prefix}vehicles:TRK-0042`);
    expect(ttl).toBeGreaterThan(25);
    expect(ttl).toBeLessThanOrEqual(30);
  });

  it('rounds a fractional or zero TTL up to a second Redis accepts', async () => {
    const cache = createRedisContextCache(redis, prefix);
    await cache.set('short', 'x', 0);
    expect(await redis.ttl(`${prefix}short`)).toBe(1);
  });

  it('lets a second relay replica answer from the shared cache without calling the API', async () => {
    const replicaA = new HttpContextProvider({
      baseUrl: api.baseUrl,
      cache: createRedisContextCache(redis, prefix),
    });
    const replicaB = new HttpContextProvider({
      baseUrl: api.baseUrl,
      cache: createRedisContextCache(redis, prefix),
    });
    const fromApi = await replicaA.getShipment('SHP-0042');
    const fromCache = await replicaB.getShipment('SHP-0042');
    expect(fromCache).toEqual(fromApi);
    expect(fromCache?.customer).toBe('Pfizer NL');
    expect(api.requests).toEqual(['/api/shipments/SHP-0042']);
  });
});
