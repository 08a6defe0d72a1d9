/**
 * What the workers keep per delivery and per incident (DESIGN.md §Pipeline, stage 6 "record"). The shapes
 * are domain/delivery-log.ts; the per-delivery lock is store/delivery-locks.ts and the Slack pace gate
 * channels/slack/pace-gate.ts.
 *
 *   {prefix}:{gid}:log:{iid}:{did}   string  DeliveryLog (JSON): what was delivered when, Slack ts, Message-IDs
 *   {prefix}:{gid}:flags:{iid}       string  IncidentFlags (JSON): acknowledged, silenced, escalation
 *   {prefix}:{gid}:coldchain:{iid}   string  ColdChainFacts (JSON): the context the last run saw, for the list
 */
import type { Redis } from 'ioredis';
import type { ColdChainFacts } from '../domain/cold-chain.js';
import { type DeliveryLog, EMPTY_LOG, type IncidentFlags } from '../domain/delivery-log.js';
import { FIRING_TTL_SECONDS } from './alert-store.js';

export class DeliveryStore {
  private readonly redis: Redis;
  private readonly ttlSeconds: number;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    retentionSeconds: number,
  ) {
    // Logs and flags are rewritten by every run, so their TTL restarts each time. It must outlast a firing
    // incident's snapshot, or a late resolve would post anew; after the last run it bounds them like one.
    this.ttlSeconds = Math.max(retentionSeconds, FIRING_TTL_SECONDS) + 86400;
    this.redis = redis;
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

  private coldChainKey(gid: string, iid: string): string {
    return `${this.prefix}:{${gid}}:coldchain:${iid}`;
  }

  async loadColdChain(gid: string, iid: string): Promise<ColdChainFacts | undefined> {
    const text = await this.redis.get(this.coldChainKey(gid, iid));
    return text ? (JSON.parse(text) as ColdChainFacts) : undefined;
  }

  async saveColdChain(gid: string, iid: string, facts: ColdChainFacts): Promise<void> {
    await this.redis.set(this.coldChainKey(gid, iid), JSON.stringify(facts), 'EX', this.ttlSeconds);
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
}
