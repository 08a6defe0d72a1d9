/**
 * The per-delivery lock: one job at a time works on a delivery, whichever queue or replica it came from.
 *
 *   {prefix}:{gid}:lock:{iid}:{did}  string  the job holding the delivery
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Idempotent for its owner: ioredis re-sends an unanswered command after a reconnect. */
const ACQUIRE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
return 0
`;

const RENEW_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** A reservation its holder comes back for this late is dropped: the job went elsewhere meanwhile. */
/** A per-delivery lock held by this process and renewed until released. */
export interface HeldLock {
  token: string;
  release(): Promise<void>;
}

type LockRedis = Redis & {
  relayAcquireLock(key: string, token: string, ttlMs: number): Promise<number>;
  relayRenewLock(key: string, token: string, ttlMs: number): Promise<number>;
  relayReleaseLock(key: string, token: string): Promise<number>;
};

export class DeliveryLocks {
  private readonly redis: LockRedis;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('relayAcquireLock', { numberOfKeys: 1, lua: ACQUIRE_LOCK });
    redis.defineCommand('relayRenewLock', { numberOfKeys: 1, lua: RENEW_LOCK });
    redis.defineCommand('relayReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK });
    this.redis = redis as LockRedis;
  }

  private lockKey(gid: string, iid: string, did: string): string {
    return `${this.prefix}:{${gid}}:lock:${iid}:${did}`;
  }

  /** True when `token` holds the lock now, including when it already did (a re-sent acquire). */
  async acquireLock(gid: string, iid: string, did: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.relayAcquireLock(this.lockKey(gid, iid, did), token, ttlMs)) === 1;
  }

  /** Extends the lock if `token` still holds it; false when it was lost (expired or taken over). */
  async renewLock(gid: string, iid: string, did: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.relayRenewLock(this.lockKey(gid, iid, did), token, ttlMs)) === 1;
  }

  async releaseLock(gid: string, iid: string, did: string, token: string): Promise<void> {
    await this.redis.relayReleaseLock(this.lockKey(gid, iid, did), token);
  }

  /**
   * Takes the delivery's lock with a short TTL and renews it every third of the TTL until released, so a
   * live worker keeps it however long its job runs and a dead worker's lock expires within one TTL.
   * Undefined when another job holds it.
   */
  async holdLock(gid: string, iid: string, did: string, ttlMs: number): Promise<HeldLock | undefined> {
    const token = randomUUID();
    if (!(await this.acquireLock(gid, iid, did, token, ttlMs))) return undefined;
    const renewal = setInterval(
      () => {
        this.renewLock(gid, iid, did, token, ttlMs).then(
          (held) => {
            if (!held) clearInterval(renewal);
          },
          () => {
            // A blip is retried at the next tick; a closed connection (the process is stopping) is final.
            if (this.redis.status === 'end') clearInterval(renewal);
          },
        );
      },
      Math.max(10, Math.floor(ttlMs / 3)),
    );
    renewal.unref();
    return {
      token,
      release: async () => {
        clearInterval(renewal);
        await this.releaseLock(gid, iid, did, token);
      },
    };
  }
}
