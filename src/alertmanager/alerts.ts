/**
 * Asks every Alertmanager in ALERTMANAGER_URL about an incident's group (DESIGN.md §Alertmanager is the
 * source of truth): `GET /api/v2/alerts` filtered by the group's labels, in every state (active, silenced,
 * inhibited); `GET /api/v2/status` for when the replica started and `GET /api/v2/receivers` for whether it
 * sends to the incident's receiver, which say whether its silence about an alert can be trusted. The
 * answers are judged by verdict.ts. Silences are created by silences.ts, with the same filters. A replica that does not answer is skipped; one that keeps failing is not asked
 * again for a while (a hung replica would otherwise cost every reconcile run a full timeout).
 */
import { CircuitBreaker } from '../context/circuit-breaker.js';
import { matcherText } from '../domain/matchers.js';
import type { IncidentSnapshot } from '../domain/model.js';
import {
  type AlertmanagerVerdict,
  apiAlertsSchema,
  judgeAlertmanager,
  type ReplicaAnswer,
} from './verdict.js';

export interface AlertmanagerCheck {
  /** The configured Alertmanagers, without credentials, for messages. */
  readonly urls: readonly string[];
  ask(snapshot: IncidentSnapshot, now: number): Promise<AlertmanagerVerdict>;
}

export interface AlertmanagerCheckOptions {
  /** Per request; models a replica that hangs, not the machine's speed. */
  timeoutMs?: number;
  /** Consecutive failures after which a replica is skipped for `coolDownMs`. */
  failureThreshold?: number;
  coolDownMs?: number;
}

/** A URL as it may be shown to people: user and password removed. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/+$/, '');
  } catch {
    return '(invalid ALERTMANAGER_URL entry)';
  }
}

/** `GET /api/v2/alerts` filters for the group's labels (Alertmanager's matcher syntax). */
export function groupFilters(snapshot: Pick<IncidentSnapshot, 'groupLabels'>): string[] {
  return Object.entries(snapshot.groupLabels).map(
    ([k, v]) => `filter=${encodeURIComponent(matcherText(k, v))}`,
  );
}

export function createAlertmanagerCheck(
  urls: string[],
  options: AlertmanagerCheckOptions = {},
): AlertmanagerCheck | undefined {
  if (urls.length === 0) return undefined;
  const timeoutMs = options.timeoutMs ?? 3000;
  const replicas = urls.map((url) => ({
    base: url.replace(/\/+$/, ''),
    shown: displayUrl(url),
    breaker: new CircuitBreaker({
      failureThreshold: options.failureThreshold ?? 3,
      coolDownMs: options.coolDownMs ?? 30_000,
    }),
  }));

  async function askReplica(replica: (typeof replicas)[number], query: string): Promise<ReplicaAnswer> {
    if (!replica.breaker.tryAcquire())
      return { url: replica.shown, ok: false, error: 'skipped after repeated failures' };
    const get = async (path: string): Promise<unknown> => {
      const res = await fetch(`${replica.base}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`${path.split('?')[0]} answered HTTP ${res.status}`);
      return res.json();
    };
    try {
      const [alerts, status, receivers] = await Promise.all([
        get(`/api/v2/alerts?${query}`),
        // Only needed to trust the replica's silence about an alert; an answer without them still counts.
        get('/api/v2/status').catch(() => undefined),
        get('/api/v2/receivers').catch(() => undefined),
      ]);
      const parsed = apiAlertsSchema.safeParse(alerts);
      // Anything but a list of alerts (a proxy's error page, another API) must never read as "none left".
      if (!parsed.success) throw new Error('/api/v2/alerts did not answer a list of alerts');
      replica.breaker.recordSuccess();
      const uptime = (status as { uptime?: unknown } | undefined)?.uptime;
      return {
        url: replica.shown,
        ok: true,
        alerts: parsed.data,
        startedAt: typeof uptime === 'string' ? Date.parse(uptime) : undefined,
        receivers: Array.isArray(receivers)
          ? receivers.flatMap((r: { name?: unknown }) => (typeof r?.name === 'string' ? [r.name] : []))
          : undefined,
      };
    } catch (error) {
      replica.breaker.recordFailure();
      return { url: replica.shown, ok: false, error: (error as Error).message };
    }
  }

  return {
    urls: replicas.map((r) => r.shown),
    async ask(snapshot, now) {
      const query = groupFilters(snapshot).join('&');
      const answers = await Promise.all(replicas.map((r) => askReplica(r, query)));
      return judgeAlertmanager(snapshot, answers, now);
    },
  };
}
