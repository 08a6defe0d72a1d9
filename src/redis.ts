import { Redis, type RedisOptions } from 'ioredis';

/**
 * The API's connection: no offline queue and a short command timeout, so a dead or stuck Redis turns into
 * a fast 503 (Alertmanager retries) instead of requests piling up. Auto-pipelining batches the commands of
 * concurrent webhooks into one round trip.
 */
export function createProducerRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: 1000,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: false,
    ...extra,
  });
}

/** Workers block on Redis and must never give up on a command (BullMQ requires maxRetriesPerRequest: null). */
export function createWorkerRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...extra,
  });
}

export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/** Redis must not evict queue or incident keys: that would lose accepted work silently. */
export async function checkEvictionPolicy(redis: Redis): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as unknown;
    const policy = Array.isArray(reply)
      ? String(reply[1])
      : String((reply as Record<string, string>)['maxmemory-policy']);
    return policy === 'noeviction'
      ? undefined
      : `Redis maxmemory-policy is ${policy}; set it to noeviction so queued alerts are never evicted`;
  } catch {
    return undefined; // CONFIG may be disabled on managed Redis; nothing to check then.
  }
}
