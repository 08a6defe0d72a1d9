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

export interface AlertStore {
  loadGroup(groupId: string): Promise<StoredGroup>;
  /** Returns the new revision, or undefined when another writer changed the group since `expectedRev`. */
  commitGroup(
    snapshot: IncidentSnapshot,
    expectedRev: string,
    markPending: boolean,
  ): Promise<string | undefined>;
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
  relayCommitGroup(
    groupKey: string,
    incidentKey: string,
    expectedRev: string,
    snapshot: string,
    incidentId: string,
    markPending: string,
    ttl: number,
  ): Promise<string | null>;
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
    redis.defineCommand('relayCommitGroup', { numberOfKeys: 2, lua: COMMIT_GROUP });
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
  ): Promise<string | undefined> {
    const ttl = snapshot.status === 'resolved' ? this.options.retentionSeconds : FIRING_TTL_SECONDS;
    // ARGV order is fixed by COMMIT_GROUP: expectedRev, snapshot, incidentId, markPending, ttl.
    const result = await this.redis.relayCommitGroup(
      this.groupKey(snapshot.groupId),
      this.incidentPrefix(snapshot.groupId) + snapshot.incidentId,
      expectedRev,
      JSON.stringify(snapshot),
      snapshot.incidentId,
      markPending ? '1' : '0',
      Math.ceil(ttl),
    );
    return result ?? undefined;
  }

  /**
   * Called once the jobs of `rev` are queued. The incident index is written here, outside the commit,
   * because it lives on another Cluster slot; it only serves lookups by id.
   */
  async finishCommit(snapshot: IncidentSnapshot, rev: string): Promise<void> {
    const ttl = snapshot.status === 'resolved' ? this.options.retentionSeconds : FIRING_TTL_SECONDS;
    const index = incidentIndexKeys(this.options.prefix);
    const member = indexMember(snapshot.groupId, snapshot.incidentId);
    // Nothing outlives both retentions, so older entries point at expired snapshots: pruned here, by age.
    const oldest = Date.now() - Math.max(this.options.retentionSeconds, FIRING_TTL_SECONDS) * 1000;
    const indexWrites = this.redis
      .multi()
      .set(
        `${this.options.prefix}:incident-group:${snapshot.incidentId}`,
        snapshot.groupId,
        'EX',
        Math.ceil(ttl),
      )
      .zadd(index.all, snapshot.startedAt, member)
      .zremrangebyscore(index.all, '-inf', `(${oldest}`)
      .zremrangebyscore(index.open, '-inf', `(${oldest}`);
    if (snapshot.status === 'firing') indexWrites.zadd(index.open, snapshot.startedAt, member);
    else indexWrites.zrem(index.open, member);
    await Promise.all([
      this.redis.relayClearPending(this.groupKey(snapshot.groupId), rev),
      indexWrites.exec(),
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
