/**
 * Alertmanager is the source of truth for "is it still firing" (DESIGN.md §Alertmanager is the source of
 * truth). Alertmanager sends no resolved notification for an alert that was silenced or inhibited when it
 * ended, and an unclustered pair may each know only part of the story, so the relay asks every replica
 * (`GET /api/v2/alerts`, filtered by the group's labels) and judges here, without I/O, what the answers say
 * about each firing alert of an incident.
 *
 * Only evidence counts: an alert some replica reports is still there; an alert is gone only when no
 * answering replica reports it and one that answers would know it: it routes to the incident's receiver (so
 * ALERTMANAGER_URL does name an Alertmanager that sends this group, not some other one), and it has been up
 * since the incident began, or long enough for Prometheus to have re-sent every firing alert since it
 * started (Alertmanager keeps alerts in memory only: a restarted one knows none until Prometheus re-sends
 * them). A replica that does not answer, or answers something that is not a list of alerts, says nothing.
 */
import { z } from 'zod';
import { alertKey, type IncidentSnapshot } from '../domain/model.js';

/** What Alertmanager's API says about one alert; only the fields the relay reads. */
export const apiAlertSchema = z.object({
  fingerprint: z.string().min(1),
  status: z.object({
    state: z.enum(['active', 'suppressed', 'unprocessed']),
    silencedBy: z.array(z.string()).default([]),
    inhibitedBy: z.array(z.string()).default([]),
  }),
  receivers: z.array(z.object({ name: z.string() })).optional(),
});
export type ApiAlert = z.output<typeof apiAlertSchema>;
export const apiAlertsSchema = z.array(apiAlertSchema);

/**
 * How long a restarted Alertmanager may not know an alert that still fires: Prometheus re-sends firing
 * alerts every `resend_delay` (1 m) after an evaluation (typically 15 s to 1 m). Until then its silence
 * about an alert proves nothing.
 */
export const ALERTMANAGER_WARMUP_MS = 5 * 60_000;

export type ReplicaAnswer =
  | {
      url: string;
      ok: true;
      alerts: ApiAlert[];
      /** When the replica started (its /api/v2/status `uptime`); undefined if that could not be read. */
      startedAt: number | undefined;
      /** Its receivers' names (/api/v2/receivers); undefined if they could not be read. */
      receivers: readonly string[] | undefined;
    }
  | { url: string; ok: false; error: string };

/**
 * One firing alert as the answering replicas see it:
 * - `active`: some replica reports it active (or not yet processed), neither silenced nor inhibited;
 * - `suppressed`: reported, but only as silenced or inhibited;
 * - `gone`: no answering replica reports it, and one that would know answered;
 * - `unconfirmed`: no answering replica reports it, but none of them would know (another Alertmanager's
 *   receivers, or restarted since).
 */
export type AlertPresence = 'active' | 'suppressed' | 'gone' | 'unconfirmed';

export interface AlertmanagerVerdict {
  /** Replicas that answered, and those that did not (in the order configured). */
  answered: string[];
  unreachable: string[];
  /** Per firing alert of the snapshot, by alert key (fingerprint@startsAt). */
  alerts: Record<string, AlertPresence>;
  /** Some answering replica reports a firing alert of the incident as silenced. */
  silenced: boolean;
  /**
   * Alerts of the group that Alertmanager reports but the snapshot does not list: those max_alerts left out
   * of the webhooks, or not notified yet. Counted only when the snapshot says some alerts are hidden.
   */
  unlisted: number;
  /** Some unlisted alert is active (neither silenced nor inhibited). */
  unlistedActive: boolean;
  /** Some replica that would know answered: only then can an alert be `gone`, or those left out of webhooks. */
  trusted: boolean;
}

/** Alerts the snapshot cannot list: left out by max_alerts, or dropped to bound the snapshot. */
function hiddenAlerts(snapshot: IncidentSnapshot): number {
  return snapshot.truncatedAlerts + (snapshot.omittedAlerts ?? 0);
}

/** Whether a replica's silence about an alert of this incident means the alert ended. */
export function knowsIncident(
  replica: { startedAt: number | undefined; receivers: readonly string[] | undefined },
  snapshot: IncidentSnapshot,
  now: number,
): boolean {
  const { startedAt, receivers } = replica;
  if (!receivers?.includes(snapshot.receiver)) return false;
  if (startedAt === undefined || Number.isNaN(startedAt)) return false;
  return startedAt <= snapshot.startedAt || now - startedAt >= ALERTMANAGER_WARMUP_MS;
}

/** Judges the replicas' answers about the snapshot's firing alerts. Pure. */
export function judgeAlertmanager(
  snapshot: IncidentSnapshot,
  answers: readonly ReplicaAnswer[],
  now: number,
): AlertmanagerVerdict {
  const answering = answers.filter((a): a is Extract<ReplicaAnswer, { ok: true }> => a.ok);
  const trusted = answering.some((a) => knowsIncident(a, snapshot, now));
  // The API identifies alerts by fingerprint only: a re-fire of the same alert (new startsAt) counts as the
  // alert still being there, which never resolves anything wrongly.
  const reported = new Map<string, ApiAlert[]>();
  for (const answer of answering)
    for (const alert of answer.alerts)
      reported.set(alert.fingerprint, [...(reported.get(alert.fingerprint) ?? []), alert]);

  const alerts: Record<string, AlertPresence> = {};
  let silenced = false;
  for (const alert of snapshot.alerts) {
    if (alert.status !== 'firing') continue;
    const copies = reported.get(alert.fingerprint) ?? [];
    if (copies.some((a) => a.status.silencedBy.length > 0)) silenced = true;
    alerts[alertKey(alert)] = copies.some(isNotifying)
      ? 'active'
      : copies.length > 0
        ? 'suppressed'
        : trusted
          ? 'gone'
          : 'unconfirmed';
  }

  let unlisted = 0;
  let unlistedActive = false;
  if (hiddenAlerts(snapshot) > 0) {
    const listed = new Set(snapshot.alerts.map((a) => a.fingerprint));
    for (const [fingerprint, seen] of reported) {
      if (listed.has(fingerprint)) continue;
      // The group filter may match alerts another route sends elsewhere; the receiver says whose they are.
      const ours = seen.filter((a) => !a.receivers || a.receivers.some((r) => r.name === snapshot.receiver));
      if (ours.length === 0) continue;
      unlisted++;
      if (ours.some(isNotifying)) unlistedActive = true;
    }
  }

  return {
    answered: answering.map((a) => a.url),
    unreachable: answers.filter((a) => !a.ok).map((a) => a.url),
    alerts,
    silenced,
    unlisted,
    unlistedActive,
    trusted,
  };
}

/** Active, or received but not yet through the silencer and inhibitor: it may notify, so it counts as active. */
function isNotifying(alert: ApiAlert): boolean {
  return alert.status.state !== 'suppressed';
}

/** No Alertmanager could be asked: nothing can be concluded, and the heartbeat rule applies. */
export function isUnknown(verdict: AlertmanagerVerdict): boolean {
  return verdict.answered.length === 0;
}

/**
 * Alertmanager vouches for the incident's firing alerts: it reports some of them (in any state). Only then
 * does it replace the heartbeat; otherwise (none answers, or those that answer do not know the alerts) a
 * group Alertmanager stopped re-sending is stale.
 */
export function reportsAlerts(verdict: AlertmanagerVerdict): boolean {
  return Object.values(verdict.alerts).some((p) => p === 'active' || p === 'suppressed');
}

/**
 * Before a reminder: `active` when some firing alert may still notify people (or Alertmanager cannot
 * tell), `suppressed` when every one still reported is silenced or inhibited. Missing a page is worse than
 * a reminder too many, so anything short of a clear "suppressed" reminds.
 */
export function reminderVerdict(verdict: AlertmanagerVerdict): 'active' | 'suppressed' | 'unknown' {
  if (isUnknown(verdict)) return 'unknown';
  const presences = Object.values(verdict.alerts);
  if (presences.some((p) => p === 'active' || p === 'unconfirmed')) return 'active';
  if (presences.some((p) => p === 'suppressed')) return 'suppressed';
  // No listed alert is still reported: what may still fire is what the webhooks left out.
  return verdict.unlistedActive || !verdict.trusted ? 'active' : 'suppressed';
}

/**
 * A silence made from Slack pauses reminders until its end; one expired (or deleted) early in Alertmanager
 * ends the pause: the alerts are still reported, and no answering replica has any of them silenced.
 */
export function silenceEnded(verdict: AlertmanagerVerdict): boolean {
  if (isUnknown(verdict) || verdict.silenced) return false;
  return Object.values(verdict.alerts).some((p) => p === 'active' || p === 'suppressed');
}

/**
 * The snapshot with every `gone` alert resolved (ended at `now`, when the relay learnt it), or undefined
 * when nothing changes. The incident resolves when no firing alert is left, unless alerts the snapshot
 * cannot list may still fire (Alertmanager reports unlisted ones, or no replica that would know answered).
 * Applied to the latest snapshot inside a compare-and-set, so a webhook merged meanwhile is kept: only the
 * alert keys judged gone are touched.
 */
export function resolveGoneAlerts(
  snapshot: IncidentSnapshot,
  verdict: AlertmanagerVerdict,
  now: number,
): IncidentSnapshot | undefined {
  if (snapshot.status !== 'firing') return undefined;
  const endsAt = new Date(now).toISOString();
  let changed = false;
  const alerts = snapshot.alerts.map((a) => {
    if (a.status !== 'firing' || verdict.alerts[alertKey(a)] !== 'gone') return a;
    changed = true;
    return { ...a, status: 'resolved' as const, endsAt };
  });
  const visibleFiring = alerts.some((a) => a.status === 'firing');
  const hiddenGone = hiddenAlerts(snapshot) > 0 && verdict.trusted && verdict.unlisted === 0;
  const hiddenFiring = hiddenAlerts(snapshot) > 0 && !hiddenGone;
  if (!changed && (visibleFiring || hiddenFiring)) return undefined;
  if (visibleFiring || hiddenFiring) return { ...snapshot, alerts };
  // Every alert, listed or not, has ended: the episode is over.
  return { ...snapshot, alerts, truncatedAlerts: 0, status: 'resolved', resolvedAt: now };
}

/** How many alerts `resolveGoneAlerts` resolved, for the metric. */
export function countResolved(before: IncidentSnapshot, after: IncidentSnapshot): number {
  const was = new Map(before.alerts.map((a) => [alertKey(a), a.status]));
  return after.alerts.filter((a) => a.status === 'resolved' && was.get(alertKey(a)) === 'firing').length;
}
