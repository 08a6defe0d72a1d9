import { Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/config.js';

/**
 * Where a connection goes. Under Sentinel, ioredis asks the sentinels for the master, re-asks after every
 * disconnect, and (failoverDetector) reconnects as soon as a sentinel announces a new master. A former master
 * that comes back as a replica answers writes with READONLY: reconnecting then finds the current master.
 */
function targetOptions(target: RedisTarget | string): { url?: string; options: RedisOptions } {
  if (typeof target === 'string') return { url: target, options: {} };
  if (target.kind === 'url') return { url: target.url, options: {} };
  return {
    options: {
      sentinels: target.sentinels,
      name: target.name,
      // One password for the sentinels and the servers they monitor, as most Sentinel deployments use.
      ...(target.password === undefined
        ? {}
        : { sentinelPassword: target.password, password: target.password }),
      failoverDetector: true,
      reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
    },
  };
}

function connect(target: RedisTarget | string, options: RedisOptions): Redis {
  const { url, options: where } = targetOptions(target);
  return url === undefined ? new Redis({ ...options, ...where }) : new Redis(url, { ...options, ...where });
}

/** For messages: which setting names the Redis that did not answer (never its password). */
export function describeRedisTarget(target: RedisTarget): string {
  return target.kind === 'url'
    ? `REDIS_URL${target.explicit ? '' : ' (unset: the default 127.0.0.1:6379)'}`
    : `REDIS_SENTINELS, master ${target.name}`;
}

/**
 * The API's connection: no offline queue and a short command timeout, so a dead or stuck Redis turns into
 * a fast 503 (Alertmanager retries) instead of requests piling up. Auto-pipelining batches the commands of
 * concurrent webhooks into one round trip.
 */
export function createProducerRedis(target: RedisTarget | string, extra: RedisOptions = {}): Redis {
  return connect(target, {
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
export function createWorkerRedis(target: RedisTarget | string, extra: RedisOptions = {}): Redis {
  return connect(target, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...extra,
  });
}

/**
 * Redis refused the relay's credentials (WRONGPASS, NOAUTH) or its ACL refuses a command the relay needs
 * (NOPERM). Retrying cannot help, so start-up stops at once and says so, instead of waiting out the
 * connection timeout and asking whether Redis is running.
 */
export class RedisAuthError extends Error {
  override name = 'RedisAuthError';
}

const AUTH_ERROR = /\b(WRONGPASS|NOAUTH|NOPERM)\b/;

/** The auth error behind a Redis error, if it is one. Redis never echoes the password in these replies. */
export function redisAuthErrorOf(error: unknown): RedisAuthError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const code = AUTH_ERROR.exec(message)?.[1];
  if (!code) return undefined;
  const detail = message.replace(/^Ready check failed: /, '');
  const hint =
    code === 'NOPERM'
      ? 'check that the ACL of the user in REDIS_URL allows the commands the relay runs'
      : 'check the user and password in REDIS_URL';
  return new RedisAuthError(`Redis authentication failed: ${detail} (${hint})`);
}

export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      // ioredis reports a refused AUTH/HELLO as an 'error' event and then reconnects forever.
      const onError = (error: Error) => {
        const auth = redisAuthErrorOf(error);
        if (!auth) return;
        cleanup();
        reject(auth);
      };
      const cleanup = () => {
        clearTimeout(timer);
        redis.off('ready', onReady);
        redis.off('error', onError);
      };
      redis.on('ready', onReady);
      redis.on('error', onError);
    });
  }
  // ioredis skips its ready check when INFO is refused (NOPERM), so a user whose ACL forbids what the relay
  // needs (INFO for BullMQ, Lua scripts) still looks ready: try both now.
  for (const probe of [() => redis.info('server'), () => redis.eval('return 1', 0)]) {
    try {
      await probe();
    } catch (error) {
      const auth = redisAuthErrorOf(error);
      if (auth) throw auth;
      // Anything else (a slow or restarting Redis) is for the callers' own error handling to meet.
    }
  }
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
