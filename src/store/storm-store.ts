/**
 * Storm digests in Redis (issue 14, item 8): the per-destination window of first posts, each storm's digest
 * record, and the lock its publisher holds. Every change is a compare-and-set over the JSON value (the pure
 * rules are domain/storm.ts), so workers and replicas agree on every decision and a restart loses nothing.
 *
 *   {prefix}:storm:{did}:window        string  StormWindow (JSON): recent first posts, the open storm
 *   {prefix}:storm:{did}:digest:{sid}  string  StormDigest (JSON): members, where it was published
 *   {prefix}:storm:{did}:lock:{sid}    string  the job publishing the digest (post, update or mail)
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  ARRIVAL_MEMORY_MS,
  EMPTY_WINDOW,
  joinStorm,
  markSent,
  newDigest,
  type StormDecision,
  type StormDigest,
  type StormPolicy,
  type StormWindow,
} from '../domain/storm.js';
import { FIRING_TTL_SECONDS } from './alert-store.js';

/** Sets the key only when it still holds what the caller read ('' = absent). */
const COMPARE_AND_SET = `
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type StormRedis = Redis & {
  relayStormCas(key: string, expected: string, value: string, ttlMs: number): Promise<number>;
  relayStormRelease(key: string, token: string): Promise<number>;
};

/** A publisher dead mid-call frees the digest within this long; a live one finishes far sooner. */
const LOCK_MS = 15_000;
const CAS_ATTEMPTS = 100;

export class StormStore {
  private readonly redis: StormRedis;
  private readonly digestTtlMs: number;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    retentionSeconds: number,
  ) {
    redis.defineCommand('relayStormCas', { numberOfKeys: 1, lua: COMPARE_AND_SET });
    redis.defineCommand('relayStormRelease', { numberOfKeys: 1, lua: RELEASE });
    this.redis = redis as StormRedis;
    // A digest lives as long as its members' delivery logs can (store/delivery-store.ts).
    this.digestTtlMs = (Math.max(retentionSeconds, FIRING_TTL_SECONDS) + 86400) * 1000;
  }

  private key(did: string, rest: string): string {
    return `${this.prefix}:storm:${did}:${rest}`;
  }

  /** Read, change, compare-and-set; again when another worker wrote in between. */
  private async update<T>(key: string, empty: T, ttlMs: number, change: (value: T) => T): Promise<T> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const text = (await this.redis.get(key)) ?? '';
      const next = change(text ? (JSON.parse(text) as T) : structuredClone(empty));
      const nextText = JSON.stringify(next);
      if (nextText === text) return next;
      if ((await this.redis.relayStormCas(key, text, nextText, ttlMs)) === 1) return next;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (attempt + 1)));
    }
    throw new Error(`${key}: changed under ${CAS_ATTEMPTS} consecutive updates`);
  }

  /** The storm decision for an incident's first message to destination `did` (sticky once taken). */
  async decide(did: string, incidentId: string, now: number, policy: StormPolicy): Promise<StormDecision> {
    let decision: StormDecision = { kind: 'own' };
    const newId = `s${now.toString(36)}${randomUUID().slice(0, 8)}`;
    await this.update<StormWindow>(
      this.key(did, 'window'),
      EMPTY_WINDOW,
      Math.max(policy.windowMs, ARRIVAL_MEMORY_MS) + 60_000,
      (window) => {
        const joined = joinStorm(window, incidentId, now, policy, newId);
        decision = joined.decision;
        return joined.window;
      },
    );
    return decision;
  }

  /** The incident's own first message to `did` went out (it no longer counts as queued). */
  async markSent(did: string, incidentId: string, policy: StormPolicy): Promise<void> {
    await this.update<StormWindow>(
      this.key(did, 'window'),
      EMPTY_WINDOW,
      Math.max(policy.windowMs, ARRIVAL_MEMORY_MS) + 60_000,
      (window) => markSent(window, incidentId),
    );
  }

  /** The storm open now for destination `did`, if any. */
  async openStorm(did: string, now: number): Promise<string | undefined> {
    const text = await this.redis.get(this.key(did, 'window'));
    const open = text ? (JSON.parse(text) as StormWindow).open : undefined;
    return open && open.until >= now ? open.id : undefined;
  }

  async loadDigest(did: string, sid: string): Promise<StormDigest | undefined> {
    const text = await this.redis.get(this.key(did, `digest:${sid}`));
    return text ? (JSON.parse(text) as StormDigest) : undefined;
  }

  /** Changes a storm's digest (created empty on first use, opened at `now`). */
  updateDigest(
    did: string,
    sid: string,
    now: number,
    change: (digest: StormDigest) => StormDigest,
  ): Promise<StormDigest> {
    return this.update(this.key(did, `digest:${sid}`), newDigest(sid, now), this.digestTtlMs, change);
  }

  /** The digest's publishing lock, or undefined when another job holds it. */
  async lockDigest(did: string, sid: string): Promise<{ release(): Promise<void> } | undefined> {
    const key = this.key(did, `lock:${sid}`);
    const token = randomUUID();
    if (!(await this.redis.set(key, token, 'PX', LOCK_MS, 'NX'))) return undefined;
    return {
      release: async () => {
        await this.redis.relayStormRelease(key, token);
      },
    };
  }
}
