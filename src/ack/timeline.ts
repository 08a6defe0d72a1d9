/**
 * An incident's timeline (fired, notified where, reminders, acknowledged, silenced, resolved), derived
 * from what is already stored — the snapshot, the flags and each delivery's bounded log — so there is
 * no second record to keep in step.
 */

import type { DeliveryLog, IncidentFlags } from '../domain/delivery-log.js';
import { incidentNotices, type LadderStep } from '../domain/ladder.js';
import type { DeliveryTarget, IncidentSnapshot } from '../domain/model.js';

export interface TimelineEntry {
  at: string;
  event: string;
  detail: string;
}

const MAX_ENTRIES = 200;

export function buildTimeline(
  snapshot: IncidentSnapshot,
  flags: IncidentFlags,
  targets: readonly DeliveryTarget[],
  logs: readonly DeliveryLog[],
  /** The incident's ladder, so a step's entry says after how long it was taken. */
  steps?: readonly LadderStep[],
): TimelineEntry[] {
  const entries: { at: number; event: string; detail: string }[] = [];
  const starts = snapshot.alerts.map((a) => Date.parse(a.startsAt)).filter((t) => !Number.isNaN(t));
  entries.push({
    at: Math.min(snapshot.startedAt, ...starts),
    event: 'fired',
    detail: `${snapshot.alerts.length} alert(s), severity ${snapshot.severity}`,
  });
  if (snapshot.startedAt > Math.min(...starts, Infinity)) {
    entries.push({
      at: snapshot.startedAt,
      event: 'received',
      detail: `first notification from Alertmanager (${snapshot.receiver})`,
    });
  }
  targets.forEach((target, i) => {
    for (const e of logs[i]?.events ?? []) {
      entries.push({
        at: e.at,
        event: e.action === 'post' ? 'notified' : e.action,
        detail: `${target.kind} ${target.target} (${e.outcome})`,
      });
    }
  });
  if (flags.acknowledged)
    entries.push({
      at: flags.acknowledged.at,
      event: 'acknowledged',
      detail: `by ${flags.acknowledged.by}${flags.acknowledged.via ? ` (${flags.acknowledged.via})` : ''}`,
    });
  for (const s of flags.silences ?? []) {
    entries.push({
      at: s.until,
      event: 'silence ends',
      detail: `silence ${s.id} on ${s.alertmanager} by ${s.by}, ${s.matched} alert(s) matched`,
    });
  }
  // The catalog's escalation, each ladder step and each lapse, dated when they happened.
  for (const notice of incidentNotices(flags, snapshot.startedAt, steps)) {
    entries.push({
      at: notice.at,
      event: notice.reminds ? 'acknowledgement lapsed' : 'escalated',
      detail: notice.text,
    });
  }
  if (snapshot.resolvedAt)
    entries.push({ at: snapshot.resolvedAt, event: 'resolved', detail: 'every alert in the group resolved' });
  return entries
    .sort((a, b) => a.at - b.at)
    .slice(-MAX_ENTRIES)
    .map((e) => ({ at: new Date(e.at).toISOString(), event: e.event, detail: e.detail }));
}
