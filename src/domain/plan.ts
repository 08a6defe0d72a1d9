/**
 * The reconcile planner: given the incident's latest snapshot and what this delivery has told people so
 * far, what must be sent now, and when to look again. Pure, so every case of DESIGN.md §Repeat policy and
 * §Level-triggered is a unit test. Whatever order jobs run in, the same inputs give the same plan.
 */

import type { DeliveryLog, IncidentFlags, ToldState } from './delivery-log.js';
import type { IncidentNotice } from './ladder.js';
import { type AlertState, alertKey, type DeliveryTarget, type IncidentSnapshot } from './model.js';

export interface ChangeSummary {
  joined: AlertState[];
  resolved: AlertState[];
  incidentResolved: boolean;
  truncatedBefore: number;
  truncatedNow: number;
}

export type PlannedAction =
  /** `notices`: the keys of the incident notices the first message carries (the story so far). */
  | { kind: 'post'; notices?: string[] }
  | { kind: 'notice'; notice: IncidentNotice }
  | { kind: 'change'; change: ChangeSummary }
  | { kind: 'stale'; lastSeenAt: number; alertmanager?: StaleAlertmanager }
  | { kind: 'reminder'; number: number }
  | { kind: 'acknowledged'; by: string; at: number };

/**
 * Why a group is stale although ALERTMANAGER_URL is set: none of `urls` answered, or those that answered
 * do not report the alerts (they are not the Alertmanagers that send them, or restarted since).
 */
export interface StaleAlertmanager {
  urls: readonly string[];
  answered: boolean;
}

export interface PlanInput {
  snapshot: IncidentSnapshot;
  log: DeliveryLog;
  flags: IncidentFlags;
  delivery: DeliveryTarget;
  now: number;
  staleAfterMs: number;
  /**
   * Set exactly when ALERTMANAGER_URL is: how often a delivery whose reminders are paused or absent asks
   * Alertmanager (ms; 0 = only before reminders).
   */
  alertmanagerCheckMs?: number | undefined;
  /**
   * What Alertmanager said in this run, when asked: whether any answered, whether it reports some of the
   * incident's firing alerts (in any state), and whom the relay asked.
   */
  alertmanager?: { answered: boolean; reports: boolean; urls: readonly string[] } | undefined;
  /** The incident's notices (escalations, lapses; domain/ladder.ts incidentNotices), oldest first. */
  notices?: readonly IncidentNotice[] | undefined;
}

export { alertKey };

export function toldStateOf(snapshot: IncidentSnapshot): ToldState {
  return {
    status: snapshot.status,
    truncatedAlerts: snapshot.truncatedAlerts,
    alerts: Object.fromEntries(snapshot.alerts.map((a) => [alertKey(a), a.status])),
  };
}

export function diffTold(told: ToldState, snapshot: IncidentSnapshot): ChangeSummary | undefined {
  const joined = snapshot.alerts.filter(
    (a) => a.status === 'firing' && told.alerts[alertKey(a)] !== 'firing',
  );
  const resolved = snapshot.alerts.filter(
    (a) => a.status === 'resolved' && told.alerts[alertKey(a)] === 'firing',
  );
  const incidentResolved = snapshot.status === 'resolved' && told.status !== 'resolved';
  const truncatedChanged = told.truncatedAlerts !== snapshot.truncatedAlerts;
  if (!joined.length && !resolved.length && !incidentResolved && !truncatedChanged) return undefined;
  return {
    joined,
    resolved,
    incidentResolved,
    truncatedBefore: told.truncatedAlerts,
    truncatedNow: snapshot.truncatedAlerts,
  };
}

/** Alertmanager's repeat, the heartbeat, has not refreshed the firing group for stale_after. */
export function heartbeatMissing(input: Pick<PlanInput, 'snapshot' | 'now' | 'staleAfterMs'>): boolean {
  return input.snapshot.status === 'firing' && input.now - input.snapshot.lastSeenAt > input.staleAfterMs;
}

/**
 * Stale: the heartbeat is missing and Alertmanager itself cannot vouch for the alerts (no ALERTMANAGER_URL,
 * none answers, or those that answer do not know them). An Alertmanager that answers is the truth (DESIGN.md
 * §Alertmanager is the source of truth): a group it still reports is not stale however long since its last
 * webhook, and alerts it no longer reports get resolved.
 */
export function isStale(
  input: Pick<PlanInput, 'snapshot' | 'now' | 'staleAfterMs' | 'alertmanagerCheckMs' | 'alertmanager'>,
): boolean {
  if (!heartbeatMissing(input)) return false;
  return input.alertmanagerCheckMs === undefined || input.alertmanager?.reports === false;
}

/**
 * Whether this run should ask Alertmanager (when configured) before planning: for a delivery that has told
 * people of a firing incident, before a reminder, before declaring it stale and on the periodic check. A run
 * for a change Alertmanager has just sent learns nothing by asking it back.
 */
export function needsAlertmanager(input: PlanInput): boolean {
  const { snapshot, log } = input;
  if (input.alertmanagerCheckMs === undefined || snapshot.status !== 'firing' || !log.root) return false;
  return !(log.told && diffTold(log.told, snapshot));
}

export function firingKeys(snapshot: IncidentSnapshot): string[] {
  return snapshot.alerts.filter((a) => a.status === 'firing').map(alertKey);
}

/**
 * An acknowledgement covers the alerts firing when it was given: a new alert in the group is new
 * information and resumes reminders.
 */
export function acknowledgementCovers(flags: IncidentFlags, snapshot: IncidentSnapshot): boolean {
  if (!flags.acknowledged) return false;
  const covered = new Set(flags.acknowledged.alertKeys);
  // Alerts Alertmanager left out of the payload count too: more of them means more alerts firing.
  return (
    snapshot.truncatedAlerts <= flags.acknowledged.truncatedAlerts &&
    firingKeys(snapshot).every((key) => covered.has(key))
  );
}

function remindersPaused(flags: IncidentFlags, snapshot: IncidentSnapshot, now: number): boolean {
  return (
    acknowledgementCovers(flags, snapshot) || (flags.silencedUntil !== undefined && flags.silencedUntil > now)
  );
}

/** When the next reminder is due, ignoring pauses: the clock runs from the last message that notified people. */
export function reminderDueAt(log: DeliveryLog, delivery: DeliveryTarget): number | undefined {
  if (delivery.repeatSeconds <= 0 || log.lastNotifiedAt === undefined) return undefined;
  const from = Math.max(log.lastNotifiedAt, log.reminderCheckedAt ?? 0);
  return from + delivery.repeatSeconds * 1000;
}

/**
 * When this delivery will next remind, as people are told it (the incident list and timeline): undefined
 * when it will not (resolved, a route that never repeats, nothing sent yet, acknowledged, stale), else the
 * due time, moved to the end of a silence. The same rule as nextWakeAt, without its other wake-ups.
 */
export function nextReminderAt(
  input: Pick<PlanInput, 'snapshot' | 'log' | 'flags' | 'delivery' | 'now'>,
): number | undefined {
  const { snapshot, log, flags, delivery, now } = input;
  if (snapshot.status !== 'firing' || log.staleNotified) return undefined;
  const due = reminderDueAt(log, delivery);
  if (due === undefined || acknowledgementCovers(flags, snapshot)) return undefined;
  const silencedUntil = flags.silencedUntil ?? 0;
  return silencedUntil > now ? Math.max(due, silencedUntil) : due;
}

export function planDelivery(input: PlanInput): PlannedAction[] {
  const { snapshot, log, flags, delivery, now } = input;
  const notices = input.notices ?? [];
  // A root without `told` is a first message begun but not finished (a flapping episode takes over an
  // earlier message in steps): the post goes on from where it stopped.
  if (!log.root || !log.told)
    return [notices.length ? { kind: 'post', notices: notices.map((n) => n.key) } : { kind: 'post' }];
  const actions: PlannedAction[] = [];
  const change = log.told ? diffTold(log.told, snapshot) : undefined;
  if (change) actions.push({ kind: 'change', change });
  // A resolve stops everything: escalations and lapses after it are old news, like "Acknowledged" below.
  const told = new Set(log.noticesTold ?? []);
  const untold = snapshot.status === 'firing' ? notices.filter((n) => !told.has(n.key)) : [];
  for (const notice of untold) actions.push({ kind: 'notice', notice });
  // A lapse told now makes a later acknowledgement news again.
  const lapseTold = untold.some((n) => n.reminds);
  // Never tell a destination something older than it has been told: beside "Resolved" (sent now or
  // before), "Acknowledged" is old news. Resolved ends an incident for good (a later firing is a new
  // incident), so leaving it out here leaves it out for good: told, without a message.
  if (flags.acknowledged && (!log.acknowledgedNotified || lapseTold) && snapshot.status !== 'resolved') {
    actions.push({ kind: 'acknowledged', by: flags.acknowledged.by, at: flags.acknowledged.at });
  }
  if (snapshot.status !== 'firing') return actions;
  if (isStale(input)) {
    if (!log.staleNotified)
      actions.push({
        kind: 'stale',
        lastSeenAt: snapshot.lastSeenAt,
        ...(input.alertmanager
          ? { alertmanager: { urls: input.alertmanager.urls, answered: input.alertmanager.answered } }
          : {}),
      });
    return actions;
  }
  const due = reminderDueAt(log, delivery);
  // A change or a lapse just notified people, which restarts the clock: no reminder in the same run.
  if (!change && !lapseTold && due !== undefined && due <= now && !remindersPaused(flags, snapshot, now)) {
    actions.push({ kind: 'reminder', number: log.reminders + 1 });
  }
  return actions;
}

/**
 * The periodic Alertmanager check's due time. Alertmanager sends no resolve for an alert that ends while
 * silenced or inhibited, however the silence was made (from Slack, or in its own UI, which the relay learns
 * only by asking), so every firing delivery that has told people asks at least every `alertmanagerCheckMs`:
 * one whose reminders are paused (acknowledged, silenced) or absent (a route that never repeats) asks only
 * this way; one that reminds more often asks before each reminder instead.
 */
export function alertmanagerCheckAt(input: PlanInput): number | undefined {
  const { snapshot, log, now, alertmanagerCheckMs } = input;
  // `never` (0) keeps only the checks before reminders.
  if (!alertmanagerCheckMs || snapshot.status !== 'firing' || !log.root) return undefined;
  return now + alertmanagerCheckMs;
}

/**
 * The next wake-up, and whether it is only the periodic Alertmanager check (a run that then finds nothing
 * to do leaves the destination alone, so a paused incident's message is not rewritten every minute).
 */
export function nextWake(
  input: PlanInput & { recheckAt?: number },
): { at: number; check: boolean } | undefined {
  const at = nextWakeAt(input);
  const check = alertmanagerCheckAt(input);
  if (check !== undefined && (at === undefined || check < at)) return { at: check, check: true };
  return at === undefined ? undefined : { at, check: false };
}

/**
 * When this delivery should be reconciled again without any webhook: the next reminder, the end of a
 * silence (reminders resume if the alerts still fire), the moment the group would turn stale, or a
 * context re-check (an excursion budget crossing its next escalation threshold).
 */
export function nextWakeAt(input: PlanInput & { recheckAt?: number }): number | undefined {
  const { snapshot, log, flags, delivery, now, staleAfterMs } = input;
  if (snapshot.status !== 'firing') return undefined;
  // A stale group sleeps until Alertmanager re-sends it (ingest queues its deliveries then) or, with
  // ALERTMANAGER_URL, until the periodic check (nextWake) finds one answering.
  if (isStale(input)) return undefined;
  const candidates: number[] = [];
  if (input.recheckAt !== undefined && input.recheckAt > now) candidates.push(input.recheckAt);
  const due = reminderDueAt(log, delivery);
  if (due !== undefined && !acknowledgementCovers(flags, snapshot)) {
    const silenced = flags.silencedUntil !== undefined && flags.silencedUntil > now;
    candidates.push(Math.max(due, silenced ? (flags.silencedUntil as number) : 0, now + 1));
    // Only a delivery that reminds needs to notice staleness: it is what staleness stops. With
    // ALERTMANAGER_URL a missing heartbeat alone is not staleness: the reminder asks Alertmanager anyway.
    if (input.alertmanagerCheckMs === undefined) candidates.push(snapshot.lastSeenAt + staleAfterMs + 1);
  }
  return candidates.length ? Math.min(...candidates) : undefined;
}
