/**
 * An incident's timeline (fired, notified where, reminders, escalations, acknowledged, silenced, dead
 * letters, resolved, and the next reminder), derived from what is already stored — the snapshot, the flags
 * and each delivery's bounded log — so there is no second record to keep in step.
 */

import type { DeliveryLog, IncidentFlags } from '../domain/delivery-log.js';
import { incidentNotices } from '../domain/ladder.js';
import type { DeliveryTarget, IncidentSnapshot } from '../domain/model.js';
import { firedAt, incidentNextReminderAt } from '../incidents/list-item.js';

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
  /** `now` adds the next reminder (a pause is judged at this time). */
  options: { now?: number } = {},
): TimelineEntry[] {
  const entries: { at: number; event: string; detail: string }[] = [];
  const fired = firedAt(snapshot);
  entries.push({
    at: fired,
    event: 'fired',
    detail: `${snapshot.alerts.length} alert(s), severity ${snapshot.severity}`,
  });
  if (snapshot.startedAt > fired) {
    entries.push({
      at: snapshot.startedAt,
      event: 'received',
      detail: `first notification from Alertmanager (${snapshot.receiver})`,
    });
  }
  targets.forEach((target, i) => {
    for (const e of logs[i]?.events ?? []) {
      const where = `${target.kind} ${target.target}`;
      entries.push(
        e.outcome === 'dead_lettered'
          ? { at: e.at, event: 'dead-lettered', detail: `${where}: ${e.detail ?? 'delivery failed'}` }
          : {
              at: e.at,
              event: e.action === 'post' ? 'notified' : e.action,
              detail: `${where} (${e.outcome})`,
            },
      );
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
  for (const notice of incidentNotices(flags, snapshot.startedAt)) {
    entries.push({
      at: notice.at,
      event: notice.reminds ? 'acknowledgement lapsed' : 'escalated',
      detail: notice.text,
    });
  }
  if (snapshot.resolvedAt)
    entries.push({ at: snapshot.resolvedAt, event: 'resolved', detail: 'every alert in the group resolved' });
  if (options.now !== undefined) {
    const deliveries = targets.map((target, i) => ({ target, log: logs[i] as DeliveryLog }));
    const next = incidentNextReminderAt({ snapshot, flags, deliveries }, options.now);
    if (next !== undefined)
      entries.push({ at: next, event: 'next reminder', detail: 'unless acknowledged, silenced or resolved' });
  }
  const sorted = entries.sort((a, b) => a.at - b.at).slice(-MAX_ENTRIES);
  return sorted.map((e) => ({ at: new Date(e.at).toISOString(), event: e.event, detail: e.detail }));
}
