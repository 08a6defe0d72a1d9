/**
 * What the workers keep per delivery and per incident (DESIGN.md §Pipeline, stage 6 "record"), plus the
 * Redis-side coordination they need: the per-delivery lock and the per-channel Slack gate.
 *
 *   {prefix}:{gid}:log:{iid}:{did}   string  DeliveryLog (JSON): what was delivered when, Slack ts, Message-IDs
 *   {prefix}:{gid}:flags:{iid}       string  IncidentFlags (JSON): acknowledged, silenced, escalation
 *   {prefix}:{gid}:lock:{iid}:{did}  string  the job holding the delivery
 *   {prefix}:slack-slots:{channel}   hash    the channel's pace gate: next free slot, 429 block, reservations
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type DeliveryLog, EMPTY_LOG, type IncidentFlags } from '../domain/delivery-log.js';
import { FIRING_TTL_SECONDS } from './alert-store.js';

/**
 * The Slack pace gate gives every caller a slot of its own (DESIGN.md §Scaling: pacing holds across replicas).
 * The channel's hash holds `next` (the first free slot, ms), `blocked` (a 429's Retry-After end, ms) and one
 * `r:<holder>` field per waiter: the slot reserved for it. A caller with no reservation goes now if the
 * channel is free, else it reserves the next free slot and is told how long to sleep; at its slot it goes
 * without queueing again. So N paced waiters wake about once each, instead of all waking at every slot and
 * N-1 of them blocking again. A reservation that fell inside a 429 block, or that its holder came back for
 * long after its time (the job went elsewhere), is dropped and the caller queues again.
 *
 * Every call takes a slot, a thread reply after a root update included: Slack counts both. So a run that must
 * update the root and then reply spends its slot on the update (recorded) and queues again for the reply.
 */
const ACQUIRE_GATE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local field = 'r:' .. ARGV[2]
local staleAfter = tonumber(ARGV[3])
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], field) or '0')
if reserved > 0 then
  if reserved > now and reserved >= blocked then return reserved - now end
  redis.call('HDEL', KEYS[1], field)
  if reserved >= blocked and now - reserved <= staleAfter then return 0 end
end
local nextAt = math.max(now, blocked, tonumber(redis.call('HGET', KEYS[1], 'next') or '0'))
redis.call('HSET', KEYS[1], 'next', nextAt + interval)
if nextAt > now then redis.call('HSET', KEYS[1], field, nextAt) end
redis.call('PEXPIRE', KEYS[1], nextAt + interval - now + 60000)
return nextAt - now
`;

const BLOCK_GATE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilAt = now + tonumber(ARGV[1])
if untilAt > tonumber(redis.call('HGET', KEYS[1], 'blocked') or '0') then
  redis.call('HSET', KEYS[1], 'blocked', untilAt)
end
local nextAt = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
if untilAt > nextAt then
  redis.call('HSET', KEYS[1], 'next', untilAt)
  nextAt = untilAt
end
redis.call('PEXPIRE', KEYS[1], nextAt - now + 60000)
return untilAt
`;

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
const STALE_RESERVATION_MS = 60_000;
/**
 * Slots are spaced a twentieth more than the pace: Slack measures the pace where requests arrive, and two
 * calls that leave exactly one interval apart arrive closer about half the time (the first one's way to Slack
 * was the slower), which a strict limiter answers with a 429.
 */
export function slotSpacing(intervalMs: number): number {
  return intervalMs + Math.ceil(intervalMs / 20);
}

export interface SlackGateState {
  /** The channel's first free slot (ms). */
  nextAt?: number;
  /** Until when a 429 blocks the channel (ms). */
  blockedUntil?: number;
  /** Holder → its reserved slot (ms). */
  reservations: Record<string, number>;
}

/** A per-delivery lock held by this process and renewed until released. */
export interface HeldLock {
  token: string;
  release(): Promise<void>;
}

type GateRedis = Redis & {
  relayAcquireGate(key: string, intervalMs: number, holder: string, staleAfterMs: number): Promise<number>;
  relayBlockGate(key: string, waitMs: number): Promise<number>;
  relayAcquireLock(key: string, token: string, ttlMs: number): Promise<number>;
  relayRenewLock(key: string, token: string, ttlMs: number): Promise<number>;
  relayReleaseLock(key: string, token: string): Promise<number>;
};

export class DeliveryStore {
  private readonly redis: GateRedis;
  private readonly ttlSeconds: number;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    retentionSeconds: number,
  ) {
    // Logs and flags are rewritten by every run, so their TTL restarts each time. It must outlast a firing
    // incident's snapshot, or a late resolve would post anew; after the last run it bounds them like one.
    this.ttlSeconds = Math.max(retentionSeconds, FIRING_TTL_SECONDS) + 86400;
    redis.defineCommand('relayAcquireGate', { numberOfKeys: 1, lua: ACQUIRE_GATE });
    redis.defineCommand('relayBlockGate', { numberOfKeys: 1, lua: BLOCK_GATE });
    redis.defineCommand('relayAcquireLock', { numberOfKeys: 1, lua: ACQUIRE_LOCK });
    redis.defineCommand('relayRenewLock', { numberOfKeys: 1, lua: RENEW_LOCK });
    redis.defineCommand('relayReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK });
    this.redis = redis as GateRedis;
  }

  private logKey(gid: string, iid: string, did: string): string {
    return `${this.prefix}:{${gid}}:log:${iid}:${did}`;
  }

  private flagsKey(gid: string, iid: string): string {
    return `${this.prefix}:{${gid}}:flags:${iid}`;
  }

  async loadLog(gid: string, iid: string, did: string): Promise<DeliveryLog> {
    const text = await this.redis.get(this.logKey(gid, iid, did));
    return text ? (JSON.parse(text) as DeliveryLog) : structuredClone(EMPTY_LOG);
  }

  async saveLog(gid: string, iid: string, did: string, log: DeliveryLog): Promise<void> {
    await this.redis.set(this.logKey(gid, iid, did), JSON.stringify(log), 'EX', this.ttlSeconds);
  }

  async loadFlags(gid: string, iid: string): Promise<IncidentFlags> {
    const text = await this.redis.get(this.flagsKey(gid, iid));
    return text ? (JSON.parse(text) as IncidentFlags) : {};
  }

  /** Read-modify-write under WATCH, since Slack clicks and workers may change flags at the same time. */
  async updateFlags(
    gid: string,
    iid: string,
    change: (flags: IncidentFlags) => IncidentFlags,
  ): Promise<IncidentFlags> {
    const key = this.flagsKey(gid, iid);
    for (let attempt = 0; attempt < 10; attempt++) {
      // WATCH needs a connection of its own; it may queue commands until connected (rarely used path).
      const client = this.redis.duplicate({ enableOfflineQueue: true });
      try {
        await client.watch(key);
        const text = await client.get(key);
        const next = change(text ? (JSON.parse(text) as IncidentFlags) : {});
        const result = await client.multi().set(key, JSON.stringify(next), 'EX', this.ttlSeconds).exec();
        if (result) return next;
      } finally {
        client.disconnect();
      }
    }
    throw new Error(`incident ${iid}: flags changed under 10 consecutive updates`);
  }

  private gateKey(channel: string): string {
    return `${this.prefix}:slack-slots:${channel}`;
  }

  private lockKey(gid: string, iid: string, did: string): string {
    return `${this.prefix}:{${gid}}:lock:${iid}:${did}`;
  }

  /**
   * Returns 0 when `holder` may send to the channel now, else how many ms to sleep: until the slot reserved
   * for it, which it keeps when it asks again (early, or re-sent) and uses when it comes back at that time
   * Slots are `slotSpacing(intervalMs)` apart.
   */
  acquireSlackGate(channel: string, intervalMs: number, holder: string): Promise<number> {
    return this.redis.relayAcquireGate(
      this.gateKey(channel),
      slotSpacing(intervalMs),
      holder,
      STALE_RESERVATION_MS,
    );
  }

  /** Slack said 429: nobody sends to that channel until Retry-After has passed. */
  async blockSlackGate(channel: string, waitMs: number): Promise<void> {
    await this.redis.relayBlockGate(this.gateKey(channel), waitMs);
  }

  async slackGateState(channel: string): Promise<SlackGateState> {
    const fields = await this.redis.hgetall(this.gateKey(channel));
    const state: SlackGateState = { reservations: {} };
    for (const [field, value] of Object.entries(fields)) {
      if (field === 'next') state.nextAt = Number(value);
      else if (field === 'blocked') state.blockedUntil = Number(value);
      else if (field.startsWith('r:')) state.reservations[field.slice(2)] = Number(value);
    }
    return state;
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
