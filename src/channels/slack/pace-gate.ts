/**
 * The Slack pace gate, one per channel across all replicas (DESIGN.md §Scaling: pacing holds across
 * replicas). Only the Slack slice reads or writes these keys:
 *
 *   {prefix}:slack-slots:{channel}   hash    the channel's pace gate: next free slot, 429 block, reservations
 */
import type { Redis } from 'ioredis';

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

type GateRedis = Redis & {
  relayAcquireGate(key: string, intervalMs: number, holder: string, staleAfterMs: number): Promise<number>;
  relayBlockGate(key: string, waitMs: number): Promise<number>;
};

export class SlackPaceGate {
  private readonly redis: GateRedis;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('relayAcquireGate', { numberOfKeys: 1, lua: ACQUIRE_GATE });
    redis.defineCommand('relayBlockGate', { numberOfKeys: 1, lua: BLOCK_GATE });
    this.redis = redis as GateRedis;
  }

  private gateKey(channel: string): string {
    return `${this.prefix}:slack-slots:${channel}`;
  }

  /**
   * Returns 0 when `holder` may send to the channel now, else how many ms to sleep: until the slot reserved
   * for it, which it keeps when it asks again (early, or re-sent) and uses when it comes back at that time
   * Slots are `slotSpacing(intervalMs)` apart.
   */
  acquire(channel: string, intervalMs: number, holder: string): Promise<number> {
    return this.redis.relayAcquireGate(
      this.gateKey(channel),
      slotSpacing(intervalMs),
      holder,
      STALE_RESERVATION_MS,
    );
  }

  /** Slack said 429: nobody sends to that channel until Retry-After has passed. */
  async block(channel: string, waitMs: number): Promise<void> {
    await this.redis.relayBlockGate(this.gateKey(channel), waitMs);
  }

  async state(channel: string): Promise<SlackGateState> {
    const fields = await this.redis.hgetall(this.gateKey(channel));
    const state: SlackGateState = { reservations: {} };
    for (const [field, value] of Object.entries(fields)) {
      if (field === 'next') state.nextAt = Number(value);
      else if (field === 'blocked') state.blockedUntil = Number(value);
      else if (field.startsWith('r:')) state.reservations[field.slice(2)] = Number(value);
    }
    return state;
  }
}
