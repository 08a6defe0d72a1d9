/**
 * The console's header strip: what an operator checks first. Queue depth (waiting + delayed + active over
 * the delivery queues), the Slack channels the pace gate is holding back now, which channels run in preview,
 * and whether Redis and each Alertmanager answer. Each probe is bounded and its failure is shown, never
 * thrown: the strip is most useful exactly when something is down.
 */
import { displayUrl } from '../alertmanager/alerts.js';
import type { SlackGateState } from '../channels/slack/pace-gate.js';
import type { ChannelKind } from '../domain/model.js';

export interface PacedChannel {
  channel: string;
  /** Deliveries holding a reserved slot (waiting for their turn). */
  waiting: number;
  /** Until when Slack's 429 blocks the channel (ms), when it does. */
  blockedUntil?: number;
}

export interface RelayStatus {
  /** undefined when the queues could not be read (Redis down). */
  queueDepth: number | undefined;
  paced: PacedChannel[] | undefined;
  preview: Record<ChannelKind, boolean>;
  redis: { ok: boolean; detail?: string };
  alertmanagers: { url: string; ok: boolean; detail?: string }[];
}

export interface StatusProbes {
  countJobs(): Promise<Record<string, number>>;
  gateState(channel: string): Promise<SlackGateState>;
  pingRedis(): Promise<unknown>;
  /** The Slack channels the policy can send to (routes and escalation steps); the gates are keyed by them. */
  slackChannels: readonly string[];
  preview: Record<ChannelKind, boolean>;
  alertmanagerUrls: readonly string[];
  /** Per probe; a hung Alertmanager must not hold the page. */
  timeoutMs: number;
  now(): number;
  fetch?: typeof fetch;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

/** A gate holds a channel back while its next free slot, a 429 block or a reservation lies in the future. */
export function pacedOf(channel: string, state: SlackGateState, now: number): PacedChannel | undefined {
  const waiting = Object.values(state.reservations).filter((at) => at > now).length;
  const blocked = (state.blockedUntil ?? 0) > now;
  if (waiting === 0 && !blocked) return undefined;
  return { channel, waiting, ...(blocked ? { blockedUntil: state.blockedUntil } : {}) };
}

async function probeAlertmanager(url: string, probes: StatusProbes) {
  const shown = displayUrl(url);
  try {
    const res = await (probes.fetch ?? fetch)(`${url.replace(/\/+$/, '')}/-/healthy`, {
      signal: AbortSignal.timeout(probes.timeoutMs),
    });
    return res.ok ? { url: shown, ok: true } : { url: shown, ok: false, detail: `HTTP ${res.status}` };
  } catch (error) {
    return { url: shown, ok: false, detail: messageOf(error) };
  }
}

export async function readRelayStatus(probes: StatusProbes): Promise<RelayStatus> {
  const now = probes.now();
  const [counts, paced, redis, alertmanagers] = await Promise.all([
    withTimeout(probes.countJobs(), probes.timeoutMs).catch(() => undefined),
    withTimeout(
      Promise.all(probes.slackChannels.map(async (c) => pacedOf(c, await probes.gateState(c), now))),
      probes.timeoutMs,
    ).then(
      (list) => list.filter((p): p is PacedChannel => p !== undefined),
      () => undefined,
    ),
    withTimeout(probes.pingRedis(), probes.timeoutMs).then(
      () => ({ ok: true }),
      (error: unknown) => ({ ok: false, detail: messageOf(error) }),
    ),
    Promise.all(probes.alertmanagerUrls.map((url) => probeAlertmanager(url, probes))),
  ]);
  const queueDepth = counts
    ? (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0) + (counts.active ?? 0)
    : undefined;
  return { queueDepth, paced, preview: probes.preview, redis, alertmanagers };
}
