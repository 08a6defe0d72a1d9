/**
 * One incident as the list shows it, and the list's filters: pure functions over what the relay stores
 * (snapshot, flags, delivery logs, cold-chain facts), so every rule here is a unit test with a fixed clock.
 */
import type { ColdChainFacts } from '../domain/cold-chain.js';
import type { DeliveryLog, IncidentFlags } from '../domain/delivery-log.js';
import { effectiveDelivery } from '../domain/destinations.js';
import type { DeliveryTarget, IncidentSnapshot } from '../domain/model.js';
import { acknowledgementCovers, nextReminderAt } from '../domain/plan.js';
import { titleOf } from '../render/describe.js';
import { summarizeColdChain } from './cold-chain.js';
import type { IncidentListFilter, IncidentListItem, IncidentListStatus } from './types.js';

/** Everything stored about one incident that its list item is built from. */
export interface IncidentRecord {
  snapshot: IncidentSnapshot;
  flags: IncidentFlags;
  /** Every destination (escalation included) with its delivery log. */
  deliveries: { target: DeliveryTarget; log: DeliveryLog }[];
  coldChain?: ColdChainFacts | undefined;
}

/**
 * The most specific of the list's words: `resolved` once every alert resolved; a firing incident is
 * `acknowledged` while the acknowledgement covers its alerts, else `silenced` while a silence made from the
 * relay pauses its reminders, else `firing`. (An acknowledgement outranks a silence: someone owns it.)
 */
export function listStatusOf(
  snapshot: IncidentSnapshot,
  flags: IncidentFlags,
  now: number,
): IncidentListStatus {
  if (snapshot.status === 'resolved') return 'resolved';
  if (acknowledgementCovers(flags, snapshot)) return 'acknowledged';
  if ((flags.silencedUntil ?? 0) > now) return 'silenced';
  return 'firing';
}

/**
 * The filter's `status=firing` means open: every incident still firing, acknowledged and silenced ones
 * included (they are firing; only their reminders are paused). The other words match exactly.
 */
export function statusMatches(wanted: IncidentListStatus | undefined, status: IncidentListStatus): boolean {
  if (wanted === undefined || wanted === status) return true;
  return wanted === 'firing' && status !== 'resolved';
}

/** Only open incidents can match: the index's open set is enough. */
export function needsOnlyOpen(status: IncidentListStatus | undefined): boolean {
  return status !== undefined && status !== 'resolved';
}

/** When the alerts started firing: the earliest alert start, or when the relay heard if earlier (bad clocks). */
export function firedAt(snapshot: Pick<IncidentSnapshot, 'startedAt' | 'alerts'>): number {
  const starts = snapshot.alerts.map((a) => Date.parse(a.startsAt)).filter((t) => !Number.isNaN(t));
  return Math.min(snapshot.startedAt, ...starts);
}

/** The earliest reminder any delivery will send, pauses respected (see plan.ts nextReminderAt). */
export function incidentNextReminderAt(record: IncidentRecord, now: number): number | undefined {
  const { snapshot, flags } = record;
  const due = record.deliveries
    .map(({ target, log }) =>
      nextReminderAt({ snapshot, flags, log, delivery: effectiveDelivery(target, flags), now }),
    )
    .filter((at): at is number => at !== undefined);
  return due.length ? Math.min(...due) : undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function buildListItem(record: IncidentRecord, now: number): IncidentListItem {
  const { snapshot, flags } = record;
  const next = incidentNextReminderAt(record, now);
  const silencedUntil = flags.silencedUntil;
  return {
    id: snapshot.incidentId,
    title: titleOf(snapshot),
    severity: flags.escalation?.severity ?? snapshot.severity,
    status: listStatusOf(snapshot, flags, now),
    firingSince: iso(firedAt(snapshot)),
    ...(snapshot.resolvedAt !== undefined ? { resolvedAt: iso(snapshot.resolvedAt) } : {}),
    coldChain: summarizeColdChain(snapshot, record.coldChain, snapshot.resolvedAt ?? now),
    ...(flags.acknowledged ? { acknowledgedBy: flags.acknowledged.by } : {}),
    ...(silencedUntil !== undefined && silencedUntil > now && snapshot.status === 'firing'
      ? { silencedUntil: iso(silencedUntil) }
      : {}),
    escalationStep: flags.ladder?.steps.length ?? 0,
    ...(next !== undefined ? { nextReminderAt: iso(next) } : {}),
    deliveries: record.deliveries.map(({ target, log }) => {
      const last = log.events.at(-1);
      return {
        id: target.id,
        kind: target.kind,
        target: target.target,
        ...(log.lastOutcome ? { lastOutcome: log.lastOutcome } : {}),
        ...(last ? { lastAt: iso(last.at) } : {}),
      };
    }),
  };
}

/** Whether an item passes the filter's status, severity, vehicle and shipment (all that are given). */
export function matchesFilter(item: IncidentListItem, filter: Omit<IncidentListFilter, 'limit'>): boolean {
  return (
    statusMatches(filter.status, item.status) &&
    (filter.severity === undefined || item.severity === filter.severity) &&
    (filter.vehicle === undefined || item.coldChain.vehicles.includes(filter.vehicle)) &&
    (filter.shipment === undefined || item.coldChain.shipments.includes(filter.shipment))
  );
}
