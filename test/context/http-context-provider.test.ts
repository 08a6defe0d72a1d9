import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CircuitBreaker,
  type ContextCache,
  ContextLookupError,
  createInMemoryContextCache,
  HttpContextProvider,
  resolveAssetContext,
} from '../../src/context/index.js';
import { type FakeDispatchApi, startFakeDispatchApi } from './fake-dispatch-api.js';
import { reeferExcursion } from './helpers.js';

let api: FakeDispatchApi;

beforeAll(async () => {
  api = await startFakeDispatchApi();
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => {
  api.behaviour = 'ok';
  api.requests.length = 0;
});

function fakeClock() {
  const clock = { now: 1_000_000 };
  return { clock, now: () => clock.now };
}

async function lookupError(promise: Promise<unknown>): Promise<ContextLookupError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof ContextLookupError))
    throw new Error(`expected a ContextLookupError, got ${String(error)}`);
  return error;
}

const truckAlert = [reeferExcursion('TRK-0042', 'SHP-0042', 19)];

describe('HttpContextProvider against a healthy API', () => {
  it('reads vehicles and shipments and maps them to the relay shapes', async () => {
    const provider = new HttpContextProvider({ baseUrl: `${api.baseUrl}/` });
    expect(await provider.getVehicle('TRK-0042')).toEqual({
      id: 'TRK-0042',
      driver: { name: 'Ana Silva', phone: '+31 6 1234 5042' },
      depot: 'Rotterdam-North',
      reeferUnit: undefined,
      shipmentIds: ['SHP-0042'],
    });
    expect((await provider.getShipment('SHP-0042'))?.cargoClass).toBe('chilled-pharma');
    expect(api.requests).toEqual(['/api/vehicles/TRK-0042', '/api/shipments/SHP-0042']);
  });

  it('answers undefined for a 404 and escapes ids in the path', async () => {
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl });
    expect(await provider.getVehicle('TRK/../9999')).toBeUndefined();
    expect(api.requests).toEqual(['/api/vehicles/TRK%2F..%2F9999']);
  });

  it('resolves the assets of a group', async () => {
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl });
    const resolved = await resolveAssetContext(truckAlert, provider);
    expect(resolved.unavailable).toBe(false);
    expect([...resolved.assets.vehicles.keys()]).toEqual(['TRK-0042']);
    expect([...resolved.assets.shipments.keys()]).toEqual(['SHP-0042']);
  });

  it('rejects a body that does not match the contract', async () => {
    api.behaviour = 'garbage';
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl });
    const error = await lookupError(provider.getVehicle('TRK-0042'));
    expect(error.code).toBe('invalid-response');
    expect(error.message).toBe(
      'dispatch API sent an invalid body for GET /vehicles/TRK-0042: id: Invalid input: expected string, received number',
    );
  });
});

describe('a slow API', () => {
  beforeEach(() => {
    api.behaviour = 'slow';
  });

  it('times out per request and reports the context unavailable', async () => {
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl, timeoutMs: 150 });
    const onUnavailable = vi.fn();
    const started = performance.now();
    const resolved = await resolveAssetContext(truckAlert, provider, { deadlineMs: 1_000, onUnavailable });
    const elapsed = performance.now() - started;

    expect(resolved).toMatchObject({
      unavailable: true,
      reasonCode: 'timeout',
      reason: 'dispatch API did not answer GET /vehicles/TRK-0042 within 150 ms (and 1 more failed lookup)',
    });
    expect(resolved.assets.vehicles.size).toBe(0);
    expect(elapsed).toBeLessThan(600);
    expect(onUnavailable).toHaveBeenCalledExactlyOnceWith('timeout', resolved.reason);
  });

  it('returns within the overall deadline even when the request timeout is longer', async () => {
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl });
    const started = performance.now();
    const resolved = await resolveAssetContext(truckAlert, provider, { deadlineMs: 250 });
    const elapsed = performance.now() - started;

    expect(resolved).toMatchObject({
      unavailable: true,
      reasonCode: 'deadline',
      reason: 'context lookups did not finish within 250 ms',
    });
    expect(elapsed).toBeGreaterThanOrEqual(240);
    expect(elapsed).toBeLessThan(500);
  });
});

describe('a failing API', () => {
  it('turns HTTP 500 into an unavailable context, never a thrown error', async () => {
    api.behaviour = 'fail';
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl });
    await expect(provider.getVehicle('TRK-0042')).rejects.toMatchObject({ code: 'http-error' });
    const resolved = await resolveAssetContext(truckAlert, provider);
    expect(resolved).toMatchObject({
      unavailable: true,
      reasonCode: 'http-error',
      reason: 'dispatch API answered HTTP 500 to GET /vehicles/TRK-0042 (and 1 more failed lookup)',
    });
  });

  it('reports an unreachable API as a network failure', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const provider = new HttpContextProvider({ baseUrl: `http://127.0.0.1:${port}` });
    const error = await lookupError(provider.getShipment('SHP-0042'));
    expect(error.code).toBe('network');
    expect(error.message).toBe('dispatch API unreachable for GET /shipments/SHP-0042: ECONNREFUSED');
  });

  it('keeps a throwing metrics hook from breaking the result', async () => {
    api.behaviour = 'fail';
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl });
    const resolved = await resolveAssetContext(truckAlert, provider, {
      onUnavailable: () => {
        throw new Error('metrics registry gone');
      },
    });
    expect(resolved.unavailable).toBe(true);
  });
});

describe('a flapping API', () => {
  it('opens the breaker after consecutive failures, then lets one trial through after the cool-down', async () => {
    const { clock, now } = fakeClock();
    const breaker = new CircuitBreaker({ failureThreshold: 3, coolDownMs: 10_000, now });
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl, breaker });

    api.behaviour = 'fail';
    for (let i = 0; i < 3; i++)
      await expect(provider.getVehicle('TRK-0042')).rejects.toMatchObject({ code: 'http-error' });
    expect(breaker.state).toBe('open');

    // Open: fails fast without calling the API.
    const resolved = await resolveAssetContext(truckAlert, provider);
    expect(resolved).toMatchObject({ unavailable: true, reasonCode: 'circuit-open' });
    expect(api.requests).toHaveLength(3);

    // Half-open, trial fails: open again for a full cool-down.
    clock.now += 10_000;
    expect(breaker.state).toBe('half-open');
    await expect(provider.getVehicle('TRK-0042')).rejects.toMatchObject({ code: 'http-error' });
    expect(breaker.state).toBe('open');
    await expect(provider.getVehicle('TRK-0042')).rejects.toMatchObject({ code: 'circuit-open' });
    expect(api.requests).toHaveLength(4);

    // Half-open, the API recovered: the trial succeeds and closes the breaker.
    api.behaviour = 'ok';
    clock.now += 10_000;
    expect((await provider.getVehicle('TRK-0042'))?.id).toBe('TRK-0042');
    expect(breaker.state).toBe('closed');
    expect((await resolveAssetContext(truckAlert, provider)).unavailable).toBe(false);
  });

  it('counts a 404 as a healthy answer', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl, breaker });
    expect(await provider.getVehicle('TRK-9999')).toBeUndefined();
    expect(breaker.state).toBe('closed');
  });
});

describe('caching', () => {
  it('serves a repeated lookup from the cache without a second HTTP call', async () => {
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl, cache: createInMemoryContextCache() });
    const first = await provider.getVehicle('TRK-0042');
    const second = await provider.getVehicle('TRK-0042');
    expect(second).toEqual(first);
    expect(api.requests).toEqual(['/api/vehicles/TRK-0042']);
  });

  it('caches "not found" too', async () => {
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl, cache: createInMemoryContextCache() });
    expect(await provider.getVehicle('TRK-9999')).toBeUndefined();
    expect(await provider.getVehicle('TRK-9999')).toBeUndefined();
    expect(api.requests).toHaveLength(1);
  });

  it('keeps answering from the cache while the API is down', async () => {
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl, cache: createInMemoryContextCache() });
    await resolveAssetContext(truckAlert, provider);
    api.behaviour = 'fail';
    const resolved = await resolveAssetContext(truckAlert, provider);
    expect(resolved.unavailable).toBe(false);
    expect(resolved.assets.shipments.get('SHP-0042')?.customer).toBe('Pfizer NL');
    expect(api.requests).toHaveLength(2);
  });

  it('expires entries after their TTL', async () => {
    const { clock, now } = fakeClock();
    const provider = new HttpContextProvider({
      baseUrl: api.baseUrl,
      cache: createInMemoryContextCache({ now }),
      cacheTtlSeconds: 60,
    });
    await provider.getVehicle('TRK-0042');
    clock.now += 59_999;
    await provider.getVehicle('TRK-0042');
    clock.now += 1;
    await provider.getVehicle('TRK-0042');
    expect(api.requests).toHaveLength(2);
  });

  it('asks the API when the cache is broken or hangs', async () => {
    const broken: ContextCache = {
      get: () => Promise.reject(new Error('READONLY')),
      set: () => Promise.reject(new Error('READONLY')),
    };
    const hanging: ContextCache = {
      get: () => new Promise(() => undefined),
      set: () => new Promise(() => undefined),
    };
    for (const cache of [broken, hanging]) {
      const provider = new HttpContextProvider({ baseUrl: api.baseUrl, cache, cacheTimeoutMs: 50 });
      expect((await provider.getVehicle('TRK-0042'))?.id).toBe('TRK-0042');
    }
    expect(api.requests).toHaveLength(2);
  });

  it('treats an unreadable cache entry as a miss', async () => {
    const cache = createInMemoryContextCache();
    await cache.set('vehicles:TRK-0042', '{"id": 1}', 60);
    const provider = new HttpContextProvider({ baseUrl: api.baseUrl, cache });
    expect((await provider.getVehicle('TRK-0042'))?.depot).toBe('Rotterdam-North');
    expect(api.requests).toHaveLength(1);
  });

  it('bounds the in-memory cache', async () => {
    const cache = createInMemoryContextCache({ maxEntries: 2 });
    await cache.set('a', '1', 60);
    await cache.set('b', '2', 60);
    await cache.set('c', '3', 60);
    expect([await cache.get('a'), await cache.get('b'), await cache.get('c')]).toEqual([undefined, '2', '3']);
  });
});
