/**
 * The reconcile planner: given the incident's latest snapshot and what this delivery has told people so
 * far, what must be sent now, and when to look again. Pure, so every case of DESIGN.md §Repeat policy and
 * §Level-triggered is a unit test. Whatever order jobs run in, the same inputs give the same plan.
 */
import type { AlertState, DeliveryTarget, IncidentSnapshot } from '../model.js';
import type { DeliveryLog, IncidentFlags, ToldState } from '../store/delivery-store.js';

export interface ChangeSummary {
  joined: AlertState[];
  resolved: AlertState[];
  incidentResolved: boolean;
  truncatedBefore: number;
  truncatedNow: number;
}

export type PlannedAction =
  | { kind: 'post' }
  | { kind: 'change'; change: ChangeSummary }
  | { kind: 'stale'; lastSeenAt: number }
  | { kind: 'reminder'; number: number }
  | { kind: 'acknowledged'; by: string; at: number };

export interface PlanInput {
  snapshot: IncidentSnapshot;
  log: DeliveryLog;
  flags: IncidentFlags;
  delivery: DeliveryTarget;
  now: number;
  staleAfterMs: number;
}

export const alertKey = (a: Pick<AlertState, 'fingerprint' | 'startsAt'>) => `${a.fingerprint}@${a.startsAt}`;

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

export function isStale(input: Pick<PlanInput, 'snapshot' | 'now' | 'staleAfterMs'>): boolean {
  return input.snapshot.status === 'firing' && input.now - input.snapshot.lastSeenAt > input.staleAfterMs;
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

export function planDelivery(input: PlanInput): PlannedAction[] {
  const { snapshot, log, flags, delivery, now } = input;
  if (!log.root) return [{ kind: 'post' }];
  const actions: PlannedAction[] = [];
  const change = log.told ? diffTold(log.told, snapshot) : undefined;
  if (change) actions.push({ kind: 'change', change });
  if (flags.acknowledged && !log.acknowledgedNotified) {
    actions.push({ kind: 'acknowledged', by: flags.acknowledged.by, at: flags.acknowledged.at });
  }
  if (snapshot.status !== 'firing') return actions;
  if (isStale(input)) {
    if (!log.staleNotified) actions.push({ kind: 'stale', lastSeenAt: snapshot.lastSeenAt });
    return actions;
  }
  const due = reminderDueAt(log, delivery);
  // A change just notified people, which restarts the clock: no reminder in the same run.
  if (!change && due !== undefined && due <= now && !remindersPaused(flags, snapshot, now)) {
    actions.push({ kind: 'reminder', number: log.reminders + 1 });
  }
  return actions;
}

/**
 * When this delivery should be reconciled again without any webhook: the next reminder, the end of a
 * silence (reminders resume if the alerts still fire), the moment the group would turn stale, or a
 * context re-check (an excursion budget crossing its next escalation threshold).
 */
export function nextWakeAt(input: PlanInput & { recheckAt?: number }): number | undefined {
  const { snapshot, log, flags, delivery, now, staleAfterMs } = input;
  if (snapshot.status !== 'firing') return undefined;
  // A stale group sleeps until Alertmanager re-sends it: ingest queues its deliveries then.
  if (isStale(input)) return undefined;
  const candidates: number[] = [];
  if (input.recheckAt !== undefined && input.recheckAt > now) candidates.push(input.recheckAt);
  const due = reminderDueAt(log, delivery);
  if (due !== undefined && !acknowledgementCovers(flags, snapshot)) {
    const silenced = flags.silencedUntil !== undefined && flags.silencedUntil > now;
    candidates.push(Math.max(due, silenced ? (flags.silencedUntil as number) : 0, now + 1));
    // Only a delivery that reminds needs to notice staleness: it is what staleness stops.
    candidates.push(snapshot.lastSeenAt + staleAfterMs + 1);
  }
  return candidates.length ? Math.min(...candidates) : undefined;
}
