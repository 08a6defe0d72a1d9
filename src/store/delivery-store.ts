/**
 * What the workers keep per delivery and per incident (DESIGN.md §Pipeline, stage 6 "record"), plus the
 * Redis-side coordination they need: the per-delivery lock and the per-channel Slack gate.
 *
 *   {prefix}:{gid}:log:{iid}:{did}   string  DeliveryLog (JSON): what was delivered when, Slack ts, Message-IDs
 *   {prefix}:{gid}:flags:{iid}       string  IncidentFlags (JSON): acknowledged, silenced, escalation
 *   {prefix}:{gid}:lock:{iid}:{did}  string  the job holding the delivery
 *   {prefix}:slack-gate:{channel}    string  ms before which no message may go to that channel
 */
import type { Redis } from 'ioredis';
import type { AlertStatus, DeliveryTarget } from '../model.js';
import { FIRING_TTL_SECONDS } from './alert-store.js';

export type DeliveryOutcome = 'delivered' | 'previewed' | 'dead_lettered';

export interface DeliveryEvent {
  at: number;
  action: string;
  outcome: DeliveryOutcome;
  detail?: string;
}

export interface ToldState {
  status: AlertStatus;
  truncatedAlerts: number;
  /** alert key (fingerprint@startsAt) → status last communicated. */
  alerts: Record<string, AlertStatus>;
}

export interface DeliveryLog {
  /** The first message: Slack channel id + ts, or the first email's Message-ID and subject. */
  root?: { channel?: string; ts?: string; messageId?: string; subject?: string; at: number };
  /** Email thread: every Message-ID sent so far, oldest first. */
  references: string[];
  /** Hash of the Slack root message as last rendered, so an unchanged incident causes no chat.update. */
  renderedHash?: string;
  told?: ToldState;
  /** The reminder clock: the last message that notified people (first, change or reminder). */
  lastNotifiedAt?: number;
  /** Set when Alertmanager said the alerts are silenced/inhibited/gone and a reminder was skipped. */
  reminderCheckedAt?: number;
  reminders: number;
  staleNotified: boolean;
  acknowledgedNotified?: boolean;
  /** Written before a send whose result cannot be looked up; found set on the next run = a possible duplicate. */
  inFlight?: { action: string; at: number };
  lastOutcome?: DeliveryOutcome;
  events: DeliveryEvent[];
}

export interface IncidentFlags {
  /** Covers the alerts firing when it was given: a new alert resumes reminders (it is new information). */
  acknowledged?: { by: string; at: number; alertKeys: string[]; truncatedAlerts: number };
  /** Reminders pause until this time (ms); a silence made from Slack sets it. */
  silencedUntil?: number;
  silences?: { alertmanager: string; id: string; until: number; matched: number; by: string }[];
  /** Destinations added after the first notification (escalation); destinations only grow. */
  extraDeliveries?: DeliveryTarget[];
  escalation?: { rule: string; reason: string; severity?: string };
}

export const EMPTY_LOG: DeliveryLog = { references: [], reminders: 0, staleNotified: false, events: [] };
const MAX_EVENTS = 50;

export function appendEvent(log: DeliveryLog, event: DeliveryEvent): void {
  log.events.push(event);
  if (log.events.length > MAX_EVENTS) log.events.splice(0, log.events.length - MAX_EVENTS);
}

const ACQUIRE_GATE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nextAt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nextAt > now then return nextAt - now end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], now + interval, 'PX', interval + 60000)
return 0
`;

const BLOCK_GATE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilAt = now + tonumber(ARGV[1])
local nextAt = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilAt > nextAt then redis.call('SET', KEYS[1], untilAt, 'PX', tonumber(ARGV[1]) + 60000) end
return untilAt
`;

const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type GateRedis = Redis & {
  relayAcquireGate(key: string, intervalMs: number): Promise<number>;
  relayBlockGate(key: string, waitMs: number): Promise<number>;
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

  /** Returns 0 when the caller may send to the channel now, else how many ms to wait. */
  acquireSlackGate(channel: string, intervalMs: number): Promise<number> {
    return this.redis.relayAcquireGate(`${this.prefix}:slack-gate:${channel}`, intervalMs);
  }

  /** Slack said 429: nobody sends to that channel until Retry-After has passed. */
  async blockSlackGate(channel: string, waitMs: number): Promise<void> {
    await this.redis.relayBlockGate(`${this.prefix}:slack-gate:${channel}`, waitMs);
  }

  async acquireLock(gid: string, iid: string, did: string, token: string, ttlMs: number): Promise<boolean> {
    const ok = await this.redis.set(`${this.prefix}:{${gid}}:lock:${iid}:${did}`, token, 'PX', ttlMs, 'NX');
    return ok === 'OK';
  }

  async releaseLock(gid: string, iid: string, did: string, token: string): Promise<void> {
    await this.redis.relayReleaseLock(`${this.prefix}:{${gid}}:lock:${iid}:${did}`, token);
  }
}
