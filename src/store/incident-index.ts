/**
 * The incident index: every incident still in Redis, newest first, and the open ones, found without
 * scanning keys (the console's list, GET /api/incidents, the shift-handoff digest).
 *
 *   {prefix}:incidents        zset  member `{gid}/{iid}`, score startedAt: every incident kept in Redis
 *   {prefix}:incidents:open   zset  the same members while the incident fires
 *
 * Kept with the snapshot commit: AlertStore.finishCommit writes it after every commit whose jobs were queued
 * (first notification, change, resolve), beside the incident-group key and for the same reason outside the
 * commit script (another Cluster slot). A failed write is repeated by the group's next such commit. Entries
 * outlive their snapshots by at most the prune age, and readers skip an entry whose snapshot is gone.
 */
import type { Redis } from 'ioredis';

export interface IncidentRef {
  groupId: string;
  incidentId: string;
  /** When the relay first heard of the incident (ms), the index's order. */
  startedAt: number;
}

export function incidentIndexKeys(prefix: string): { all: string; open: string } {
  return { all: `${prefix}:incidents`, open: `${prefix}:incidents:open` };
}

export function indexMember(groupId: string, incidentId: string): string {
  return `${groupId}/${incidentId}`;
}

function refOf(member: string, score: string): IncidentRef | undefined {
  const [groupId, incidentId] = member.split('/');
  if (!groupId || !incidentId) return undefined;
  return { groupId, incidentId, startedAt: Number(score) };
}

/** A position in the index: the last entry of the previous page (score, then member, both descending). */
export interface IndexPosition {
  startedAt: number;
  member: string;
}

export class IncidentIndex {
  private readonly keys: { all: string; open: string };

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = incidentIndexKeys(prefix);
  }

  /**
   * Up to `limit` entries, newest first, strictly after `after` when given. `open` reads only the
   * incidents that were firing at their last indexed commit.
   */
  async newest(options: { open?: boolean; after?: IndexPosition; limit: number }): Promise<IncidentRef[]> {
    const key = options.open ? this.keys.open : this.keys.all;
    const after = options.after;
    const max = after ? `${after.startedAt}` : '+inf';
    // Entries sharing the position's score are re-read and skipped by member, so no tie is lost. A burst can
    // give hundreds of incidents one start time (one group commit): read on until past them.
    const refs: IncidentRef[] = [];
    for (let offset = 0; refs.length < options.limit; ) {
      const count = options.limit - refs.length + (after ? 64 : 0);
      const flat = await this.redis.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', offset, count);
      for (let i = 0; i + 1 < flat.length && refs.length < options.limit; i += 2) {
        const member = flat[i] as string;
        const score = flat[i + 1] as string;
        if (after && Number(score) === after.startedAt && member >= after.member) continue;
        const ref = refOf(member, score);
        if (ref) refs.push(ref);
      }
      if (flat.length < count * 2) break;
      offset += count;
    }
    return refs;
  }

  /** Every open incident, newest first. */
  async open(): Promise<IncidentRef[]> {
    const flat = await this.redis.zrevrangebyscore(this.keys.open, '+inf', '-inf', 'WITHSCORES');
    const refs: IncidentRef[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const ref = refOf(flat[i] as string, flat[i + 1] as string);
      if (ref) refs.push(ref);
    }
    return refs;
  }
}
