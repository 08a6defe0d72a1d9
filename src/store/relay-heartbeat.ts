/**
 * Who shares this Redis prefix. Relays with the same `redis_prefix` on one Redis share queues and incident
 * state: that is how the api and worker replicas of one deployment cooperate, and a mistake when two
 * deployments (say staging and production) were pointed at one Redis with the default prefix. Each relay
 * writes a heartbeat with a hash of its policy; at start, a live heartbeat with another hash is warned about.
 *
 *   {prefix}:relays   hash  instance id → JSON {configHash, role, host, pid, seenAt}
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

export interface RelayHeartbeatEntry {
  configHash: string;
  role: string;
  host: string;
  pid: number;
  /** ms since the epoch */
  seenAt: number;
}

/** A heartbeat older than this is a relay that is gone. */
export const HEARTBEAT_INTERVAL_MS = 30_000;
const STALE_AFTER_MS = 3 * HEARTBEAT_INTERVAL_MS;

/** A stable hash of what must agree between relays sharing a prefix: the policy (routes, limits, prefix). */
export function configHashOf(policy: unknown): string {
  return createHash('sha256').update(JSON.stringify(policy)).digest('hex').slice(0, 12);
}

function parseEntry(text: string): RelayHeartbeatEntry | undefined {
  try {
    const entry = JSON.parse(text) as RelayHeartbeatEntry;
    return typeof entry.seenAt === 'number' ? entry : undefined;
  } catch {
    return undefined;
  }
}

function isLive(entry: RelayHeartbeatEntry | undefined, now: number): entry is RelayHeartbeatEntry {
  return entry !== undefined && now - entry.seenAt <= STALE_AFTER_MS;
}

/** Live heartbeats of other relays whose config hash differs from ours. Pure, for the start-up warning. */
export function conflictingRelays(
  entries: Record<string, string>,
  self: { id: string; configHash: string },
  now: number,
): (RelayHeartbeatEntry & { id: string })[] {
  const conflicts: (RelayHeartbeatEntry & { id: string })[] = [];
  for (const [id, text] of Object.entries(entries)) {
    const entry = parseEntry(text);
    if (id === self.id || !isLive(entry, now)) continue;
    if (entry.configHash !== self.configHash) conflicts.push({ id, ...entry });
  }
  return conflicts;
}

export interface RelayHeartbeat {
  /** Relays seen at start with the same prefix but another config hash. */
  conflicts: (RelayHeartbeatEntry & { id: string })[];
  stop(): Promise<void>;
}

export async function startRelayHeartbeat(
  redis: Redis,
  options: {
    prefix: string;
    configHash: string;
    role: string;
    onError?: (error: unknown) => void;
    now?: () => number;
  },
): Promise<RelayHeartbeat> {
  const now = options.now ?? Date.now;
  const key = `${options.prefix}:relays`;
  const id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const beat = async () => {
    const entry: RelayHeartbeatEntry = {
      configHash: options.configHash,
      role: options.role,
      host: hostname(),
      pid: process.pid,
      seenAt: now(),
    };
    await redis.hset(key, id, JSON.stringify(entry));
    await redis.pexpire(key, STALE_AFTER_MS);
  };
  const entries = (await redis.hgetall(key)) as Record<string, string>;
  const conflicts = conflictingRelays(entries, { id, configHash: options.configHash }, now());
  // Forget the heartbeats of relays that are gone, so the hash does not grow with every restart.
  const stale = Object.entries(entries)
    .filter(([, text]) => !isLive(parseEntry(text), now()))
    .map(([field]) => field);
  if (stale.length) await redis.hdel(key, ...stale);
  await beat();
  const timer = setInterval(
    () => beat().catch((error: unknown) => options.onError?.(error)),
    HEARTBEAT_INTERVAL_MS,
  );
  timer.unref();
  return {
    conflicts,
    async stop() {
      clearInterval(timer);
      await redis.hdel(key, id).catch(() => undefined);
    },
  };
}
