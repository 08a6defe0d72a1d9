/**
 * Flapping groups in Redis (issue 14, item 9), written by the workers (the ingest path is untouched): the
 * group's firing episodes, the message each episode posted of its own per destination, and which episode
 * shows itself on a shared message now. The rules are domain/flapping.ts.
 *
 *   {prefix}:flap:{gid}   hash   e:{iid} → Episode (JSON); m:{did}:{iid} → its own message (JSON);
 *                                o:{did}:{anchor} → the episode that shows itself on anchor's message now
 */
import type { Redis } from 'ioredis';
import type { Episode } from '../domain/flapping.js';

/** A destination's message as a later episode reuses it: Slack's root, or an email thread. */
export interface OwnMessage {
  channel?: string;
  ts?: string;
  messageId?: string;
  subject?: string;
  references?: string[];
}

/** More episodes than this in a group: the oldest are dropped (a flap window never needs that many). */
const MAX_EPISODES = 200;

export class FlapStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private key(gid: string): string {
    return `${this.prefix}:flap:${gid}`;
  }

  private async write(gid: string, fields: Record<string, string>): Promise<void> {
    await this.redis.multi().hset(this.key(gid), fields).expire(this.key(gid), this.ttlSeconds).exec();
  }

  /** Records an episode's start (first message) or its resolve; a known start is kept. */
  async recordEpisode(gid: string, episode: Episode): Promise<void> {
    const field = `e:${episode.incidentId}`;
    const known = await this.redis.hget(this.key(gid), field);
    const current = known ? (JSON.parse(known) as Episode) : undefined;
    if (current && (current.resolvedAt !== undefined || episode.resolvedAt === undefined)) return;
    await this.write(gid, {
      [field]: JSON.stringify({ ...episode, startedAt: current?.startedAt ?? episode.startedAt }),
    });
  }

  async group(gid: string, did: string): Promise<{ episodes: Episode[]; messages: Map<string, OwnMessage> }> {
    const fields = await this.redis.hgetall(this.key(gid));
    const episodes: Episode[] = [];
    const messages = new Map<string, OwnMessage>();
    for (const [field, value] of Object.entries(fields)) {
      if (field.startsWith('e:')) episodes.push(JSON.parse(value) as Episode);
      else if (field.startsWith(`m:${did}:`))
        messages.set(field.slice(did.length + 3), JSON.parse(value) as OwnMessage);
    }
    if (episodes.length > MAX_EPISODES) {
      const oldest = episodes
        .sort((a, b) => a.startedAt - b.startedAt)
        .slice(0, episodes.length - MAX_EPISODES);
      await this.redis.hdel(this.key(gid), ...oldest.map((e) => `e:${e.incidentId}`));
    }
    return { episodes, messages };
  }

  /** An episode posted a message of its own to `did`: later flapping episodes may reuse it. */
  async recordOwnMessage(gid: string, did: string, iid: string, message: OwnMessage): Promise<void> {
    await this.write(gid, { [`m:${did}:${iid}`]: JSON.stringify(message) });
  }

  /** `iid` now shows itself on `anchor`'s message: earlier episodes stop updating it. */
  async takeOver(gid: string, did: string, anchor: string, iid: string): Promise<void> {
    await this.write(gid, { [`o:${did}:${anchor}`]: iid });
  }

  /** The episode shown on `anchor`'s message: the latest that took it over, else the anchor itself. */
  async ownerOf(gid: string, did: string, anchor: string): Promise<string> {
    return (await this.redis.hget(this.key(gid), `o:${did}:${anchor}`)) ?? anchor;
  }
}
