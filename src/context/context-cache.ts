import type { Redis } from 'ioredis';
import type { ContextCache } from './types.js';

export interface InMemoryContextCacheOptions {
  /** Bound on entries; the oldest written is evicted first. */
  maxEntries?: number;
  now?: () => number;
}

/** For a single process and for tests; the Redis adapter is what replicas should share. */
export function createInMemoryContextCache(options: InMemoryContextCacheOptions = {}): ContextCache {
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: string; expiresAt: number }>();
  return {
    async get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    async set(key, value, ttlSeconds) {
      // Re-inserting moves the key to the end of the Map's order, which is what eviction reads.
      entries.delete(key);
      entries.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
    },
  };
}

/** Shared across relay replicas, so a burst of alerts for one truck asks the dispatch API once. */
export function createRedisContextCache(redis: Redis, prefix: string): ContextCache {
  return {
    async get(key) {
      const value = await redis.get(prefix + key);
      return value ?? undefined;
    },
    async set(key, value, ttlSeconds) {
      // EX takes whole seconds and rejects 0.
      await redis.set(prefix + key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    },
  };
}
