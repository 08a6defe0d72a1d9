/**
 * AlertStore: the incident snapshots in Redis. A group's current snapshot is replaced with compare-and-set
 * on a revision, so two relay processes merging copies of the same notification at the same instant cannot
 * both count it as new: the loser re-reads and finds a duplicate.
 *
 * Keys share the group's hash tag, so one group's keys stay on one Redis Cluster slot:
 *   {prefix}:{gid}:group           hash  rev, pending, current (incident id)
 *   {prefix}:{gid}:incident:{iid}  string  the incident snapshot (JSON)
 *   {prefix}:incident-group:{iid}  string  gid, so /api/incidents/{id} can find an incident by id alone
 *                                          (another slot, so written after the commit, not in it)
 *   {prefix}:incidents[:open]      zset    the incident index (store/incident-index.ts), written with it
 *
 * A commit may append an entry to a write-ahead stream (the webhook's jobs, enqueue/write-ahead.ts) in the
 * same call, so snapshot and jobs are stored together. That stream carries the queues' hash tag, not the
 * group's: under Redis Cluster the commit would have to move to one slot with it (not needed standalone or
 * under Sentinel, which is what DESIGN.md §Scaling deploys).
 */
import type { Redis } from 'ioredis';
import type { IncidentSnapshot } from '../domain/model.js';
import { incidentIndexKeys, indexMember } from './incident-index.js';

export interface StoredGroup {
  /** '' when the group has never been seen. */
  rev: string;
  /** Set while the jobs of revision `pending` may not be in the queue yet (a crash between commit and enqueue). */
  pending: string | undefined;
  snapshot: IncidentSnapshot | undefined;
}

/** A stream entry appended in the commit's own call: fields `r` (the new revision) and `j` (`entry`). */
export interface WriteAheadAppend {
  key: string;
  entry: string;
}

export interface AlertStore {
  loadGroup(groupId: string): Promise<StoredGroup>;
  /** Returns the new revision, or undefined when another writer changed the group since `expectedRev`. */
  commitGroup(
    snapshot: IncidentSnapshot,
    expectedRev: string,
    markPending: boolean,
    writeAhead?: WriteAheadAppend,
  ): Promise<string | undefined>;
  /**
   * The commit's bookkeeping once its jobs are stored: clears an older pending marker, writes the incident
   * index and the incident → group key. Idempotent; the write-ahead pump calls it for every entry.
   */
  finishCommit(snapshot: IncidentSnapshot, rev: string): Promise<void>;
  loadIncident(groupId: string, incidentId: string): Promise<IncidentSnapshot | undefined>;
  findGroupOfIncident(incidentId: string): Promise<string | undefined>;
}

const READ_GROUP = `
local g = redis.call('HMGET', KEYS[1], 'rev', 'pending', 'current')
if not g[1] then return {false, false, false} end
return {g[1], g[2], redis.call('GET', ARGV[1] .. g[3])}
`;

const COMMIT_GROUP = `
local rev = redis.call('HGET', KEYS[1], 'rev') or ''
if rev ~= ARGV[1] then return false end
local nextRev = tostring((tonumber(rev) or 0) + 1)
redis.call('HSET', KEYS[1], 'rev', nextRev, 'current', ARGV[3])
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'pending', nextRev) end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[5])
if KEYS[3] then redis.call('XADD', KEYS[3], '*', 'r', nextRev, 'j', ARGV[6]) end
return nextRev
`;

// The jobs just queued reflect the latest snapshot, so they cover every earlier pending revision too.
const CLEAR_PENDING = `
local pending = tonumber(redis.call('HGET', KEYS[1], 'pending'))
if pending and pending <= tonumber(ARGV[1]) then redis.call('HDEL', KEYS[1], 'pending') end
return 1
`;

type StoreRedis = Redis & {
  relayReadGroup(key: string, incidentPrefix: string): Promise<[string | null, string | null, string | null]>;
  relayCommitGroup(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<string | null>;
  relayClearPending(groupKey: string, rev: string): Promise<number>;
};

export interface RedisAlertStoreOptions {
  prefix: string;
  /** How long a resolved incident stays in Redis. */
  retentionSeconds: number;
}

/** Firing incidents are refreshed by every heartbeat; this only bounds an abandoned one. */
export const FIRING_TTL_SECONDS = 30 * 86400;

export class RedisAlertStore implements AlertStore {
  private readonly redis: StoreRedis;

  constructor(
    redis: Redis,
    private readonly options: RedisAlertStoreOptions,
  ) {
    redis.defineCommand('relayReadGroup', { numberOfKeys: 1, lua: READ_GROUP });
    // Two keys, or three with a write-ahead stream: the key count is the call's first argument.
    redis.defineCommand('relayCommitGroup', { lua: COMMIT_GROUP });
    redis.defineCommand('relayClearPending', { numberOfKeys: 1, lua: CLEAR_PENDING });
    this.redis = redis as StoreRedis;
  }

  private groupKey(gid: string): string {
    return `${this.options.prefix}:{${gid}}:group`;
  }

  private incidentPrefix(gid: string): string {
    return `${this.options.prefix}:{${gid}}:incident:`;
  }

  async loadGroup(groupId: string): Promise<StoredGroup> {
    const [rev, pending, snapshot] = await this.redis.relayReadGroup(
      this.groupKey(groupId),
      this.incidentPrefix(groupId),
    );
    return {
      rev: rev ?? '',
      pending: pending ?? undefined,
      snapshot: snapshot ? (JSON.parse(snapshot) as IncidentSnapshot) : undefined,
    };
  }

  async commitGroup(
    snapshot: IncidentSnapshot,
    expectedRev: string,
    markPending: boolean,
    writeAhead?: WriteAheadAppend,
  ): Promise<string | undefined> {
    const ttl = snapshot.status === 'resolved' ? this.options.retentionSeconds : FIRING_TTL_SECONDS;
    const groupKey = this.groupKey(snapshot.groupId);
    const incidentKey = this.incidentPrefix(snapshot.groupId) + snapshot.incidentId;
    // ARGV order is fixed by COMMIT_GROUP: expectedRev, snapshot, incidentId, markPending, ttl[, entry].
    const args = [
      expectedRev,
      JSON.stringify(snapshot),
      snapshot.incidentId,
      markPending ? '1' : '0',
      Math.ceil(ttl),
    ] as const;
    const result = writeAhead
      ? await this.redis.relayCommitGroup(3, groupKey, incidentKey, writeAhead.key, ...args, writeAhead.entry)
      : await this.redis.relayCommitGroup(2, groupKey, incidentKey, ...args);
    return result ?? undefined;
  }

  /**
   * Called once the jobs of `rev` are stored (queued, or in a write-ahead entry). The incident index is
   * written here, outside the commit, because it lives on another Cluster slot; it only serves lookups.
   */
  async finishCommit(snapshot: IncidentSnapshot, rev: string): Promise<void> {
    const ttl = snapshot.status === 'resolved' ? this.options.retentionSeconds : FIRING_TTL_SECONDS;
    const index = incidentIndexKeys(this.options.prefix);
    const member = indexMember(snapshot.groupId, snapshot.incidentId);
    // Nothing outlives both retentions, so older entries point at expired snapshots: pruned here, by age.
    const oldest = Date.now() - Math.max(this.options.retentionSeconds, FIRING_TTL_SECONDS) * 1000;
    // Plain commands, not a MULTI: each write is idempotent and readers skip an entry whose snapshot is gone,
    // so nothing needs them applied together, and a MULTI costs ioredis a Pipeline object per call (the pump
    // calls this once per webhook). They are sent back to back, one round trip for all.
    const groupOf = `${this.options.prefix}:incident-group:${snapshot.incidentId}`;
    await Promise.all([
      this.redis.relayClearPending(this.groupKey(snapshot.groupId), rev),
      this.redis.set(groupOf, snapshot.groupId, 'EX', Math.ceil(ttl)),
      this.redis.zadd(index.all, snapshot.startedAt, member),
      snapshot.status === 'firing'
        ? this.redis.zadd(index.open, snapshot.startedAt, member)
        : this.redis.zrem(index.open, member),
      this.redis.zremrangebyscore(index.all, '-inf', `(${oldest}`),
      this.redis.zremrangebyscore(index.open, '-inf', `(${oldest}`),
    ]);
  }

  async loadIncident(groupId: string, incidentId: string): Promise<IncidentSnapshot | undefined> {
    const text = await this.redis.get(this.incidentPrefix(groupId) + incidentId);
    return text ? (JSON.parse(text) as IncidentSnapshot) : undefined;
  }

  async findGroupOfIncident(incidentId: string): Promise<string | undefined> {
    return (await this.redis.get(`${this.options.prefix}:incident-group:${incidentId}`)) ?? undefined;
  }
}
