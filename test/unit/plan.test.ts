import { describe, expect, it } from 'vitest';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import { type DeliveryLog, EMPTY_LOG, type IncidentFlags } from '../../src/domain/delivery-log.js';
import type { DeliveryTarget, IncidentSnapshot } from '../../src/domain/model.js';
import { firingKeys, nextWakeAt, planDelivery, toldStateOf } from '../../src/domain/plan.js';
import { fixture } from '../support/fixtures.js';

const T0 = 1_800_000_000_000;
const MIN = 60_000;
const critical: DeliveryTarget = {
  id: 'd1',
  kind: 'slack',
  target: '#alerts-critical',
  route: 'critical',
  repeatSeconds: 300,
  broadcastReminders: false,
};
const info: DeliveryTarget = { ...critical, id: 'd2', target: '#alerts-info', repeatSeconds: 0 };
const STALE = 30 * MIN;

function snapshotOf(...names: Parameters<typeof fixture>[0][]): IncidentSnapshot {
  let snapshot: IncidentSnapshot | undefined;
  for (const name of names) snapshot = mergeWebhook(snapshot, fixture(name), T0).snapshot;
  return snapshot!;
}

function notifiedLog(snapshot: IncidentSnapshot, at: number): DeliveryLog {
  return {
    ...structuredClone(EMPTY_LOG),
    root: { channel: 'C1', ts: '1.1', at },
    told: toldStateOf(snapshot),
    lastNotifiedAt: at,
  };
}

function plan(
  snapshot: IncidentSnapshot,
  log: DeliveryLog,
  now: number,
  flags: IncidentFlags = {},
  delivery = critical,
) {
  return planDelivery({ snapshot, log, flags, delivery, now, staleAfterMs: STALE }).map((a) => a.kind);
}

describe('planDelivery', () => {
  it('posts first, whatever the incident state (a resolve processed before its firing still tells people)', () => {
    expect(plan(snapshotOf('firing-postgresql-down'), structuredClone(EMPTY_LOG), T0)).toEqual(['post']);
    expect(
      plan(snapshotOf('firing-postgresql-down', 'resolved-postgresql-down'), structuredClone(EMPTY_LOG), T0),
    ).toEqual(['post']);
  });

  it('sends nothing when nothing changed and no reminder is due (running a job twice is harmless)', () => {
    const s = snapshotOf('firing-postgresql-down');
    expect(plan(s, notifiedLog(s, T0), T0 + 4 * MIN)).toEqual([]);
  });

  it('reminds once the repeat interval has passed since the last message that notified people', () => {
    const s = { ...snapshotOf('firing-postgresql-down'), lastSeenAt: T0 + 5 * MIN };
    expect(plan(s, notifiedLog(s, T0), T0 + 5 * MIN)).toEqual(['reminder']);
    const afterChange = notifiedLog(s, T0 + 3 * MIN);
    expect(plan(s, afterChange, T0 + 5 * MIN)).toEqual([]);
  });

  it('never reminds for a route that repeats never (info)', () => {
    const s = { ...snapshotOf('firing-postgresql-down'), lastSeenAt: T0 + 60 * MIN };
    expect(plan(s, notifiedLog(s, T0), T0 + 60 * MIN, {}, info)).toEqual([]);
  });

  it('reports a join and a partial resolve as a change, and the final resolve as the incident resolving', () => {
    const first = snapshotOf('group-first-replica-a');
    const log = notifiedLog(first, T0);
    const joined = snapshotOf('group-first-replica-a', 'group-truncated-replica-a');
    expect(plan(joined, log, T0 + MIN)).toEqual(['change']);
    const partial = snapshotOf(
      'group-first-replica-a',
      'group-truncated-replica-a',
      'group-partial-resolve-replica-a',
    );
    const [change] = planDelivery({
      snapshot: partial,
      log: notifiedLog(joined, T0),
      flags: {},
      delivery: critical,
      now: T0,
      staleAfterMs: STALE,
    });
    expect(change?.kind === 'change' && change.change.resolved.length).toBe(1);
    const resolved = snapshotOf('firing-postgresql-down', 'resolved-postgresql-down');
    const [end] = planDelivery({
      snapshot: resolved,
      log: notifiedLog(snapshotOf('firing-postgresql-down'), T0),
      flags: {},
      delivery: critical,
      now: T0,
      staleAfterMs: STALE,
    });
    expect(end?.kind === 'change' && end.change.incidentResolved).toBe(true);
  });

  it('stops reminding when acknowledged or while silenced, and says once that a group went stale', () => {
    const s = { ...snapshotOf('firing-postgresql-down'), lastSeenAt: T0 + 9 * MIN };
    const log = { ...notifiedLog(s, T0), acknowledgedNotified: true };
    expect(
      plan(s, log, T0 + 10 * MIN, {
        acknowledged: { by: 'maria', at: T0, alertKeys: firingKeys(s), truncatedAlerts: 0 },
      }),
    ).toEqual([]);
    expect(plan(s, log, T0 + 10 * MIN, { silencedUntil: T0 + 60 * MIN })).toEqual([]);
    const stale = snapshotOf('firing-postgresql-down');
    expect(plan(stale, notifiedLog(stale, T0), T0 + STALE + 1)).toEqual(['stale']);
    expect(plan(stale, { ...notifiedLog(stale, T0), staleNotified: true }, T0 + STALE + 1)).toEqual([]);
  });

  it('resumes reminders when a new alert joins an acknowledged incident', () => {
    const first = snapshotOf('group-first-replica-a');
    const joined = {
      ...snapshotOf('group-first-replica-a', 'group-truncated-replica-a'),
      lastSeenAt: T0 + 10 * MIN,
    };
    const flags = { acknowledged: { by: 'maria', at: T0, alertKeys: firingKeys(first), truncatedAlerts: 0 } };
    const log = { ...notifiedLog(joined, T0), acknowledgedNotified: true };
    expect(
      plan(
        { ...first, lastSeenAt: T0 + 10 * MIN },
        { ...notifiedLog(first, T0), acknowledgedNotified: true },
        T0 + 10 * MIN,
        flags,
      ),
    ).toEqual([]);
    expect(plan(joined, log, T0 + 10 * MIN, flags)).toEqual(['reminder']);
  });

  it('announces an acknowledgement once', () => {
    const s = snapshotOf('firing-postgresql-down');
    expect(
      plan(s, notifiedLog(s, T0), T0, {
        acknowledged: { by: 'maria', at: T0, alertKeys: firingKeys(s), truncatedAlerts: 0 },
      }),
    ).toEqual(['acknowledged']);
  });

  it('never announces an acknowledgement after "Resolved": the destination has been told something newer', () => {
    const firing = snapshotOf('firing-postgresql-down');
    const resolved = snapshotOf('firing-postgresql-down', 'resolved-postgresql-down');
    const flags = {
      acknowledged: { by: 'maria', at: T0, alertKeys: firingKeys(firing), truncatedAlerts: 0 },
    };
    // Acknowledged and resolved before this delivery caught up: it says "Resolved" and no more.
    expect(plan(resolved, notifiedLog(firing, T0), T0 + MIN, flags)).toEqual(['change']);
    // Already told "Resolved" (the run that announced it failed before the acknowledgement): nothing.
    expect(plan(resolved, notifiedLog(resolved, T0), T0 + MIN, flags)).toEqual([]);
    // A destination that joined late (escalation) with a first message for an already-resolved incident.
    expect(plan(resolved, structuredClone(EMPTY_LOG), T0 + MIN, flags)).toEqual(['post']);
    expect(plan(resolved, notifiedLog(resolved, T0 + MIN), T0 + 2 * MIN, flags)).toEqual([]);
  });
});

describe('nextWakeAt', () => {
  const input = (
    snapshot: IncidentSnapshot,
    log: DeliveryLog,
    now: number,
    flags: IncidentFlags = {},
    delivery = critical,
  ) => ({
    snapshot,
    log,
    flags,
    delivery,
    now,
    staleAfterMs: STALE,
  });

  it('wakes for the next reminder, and not at all once resolved, acknowledged or for never-repeating routes', () => {
    const s = snapshotOf('firing-postgresql-down');
    expect(nextWakeAt(input(s, notifiedLog(s, T0), T0))).toBe(T0 + 5 * MIN);
    const resolved = snapshotOf('firing-postgresql-down', 'resolved-postgresql-down');
    expect(nextWakeAt(input(resolved, notifiedLog(resolved, T0), T0))).toBeUndefined();
    expect(
      nextWakeAt(
        input(s, notifiedLog(s, T0), T0, {
          acknowledged: { by: 'x', at: T0, alertKeys: firingKeys(s), truncatedAlerts: 0 },
        }),
      ),
    ).toBeUndefined();
    expect(nextWakeAt(input(s, notifiedLog(s, T0), T0, {}, info))).toBeUndefined();
  });

  it('waits for the end of a silence, and wakes early for a context re-check or to notice staleness', () => {
    const s = snapshotOf('firing-postgresql-down');
    expect(nextWakeAt(input(s, notifiedLog(s, T0), T0, { silencedUntil: T0 + 60 * MIN }))).toBe(
      T0 + STALE + 1,
    );
    const fresh = { ...s, lastSeenAt: T0 + 55 * MIN };
    expect(
      nextWakeAt(input(fresh, notifiedLog(s, T0), T0 + 56 * MIN, { silencedUntil: T0 + 60 * MIN })),
    ).toBe(T0 + 60 * MIN);
    expect(nextWakeAt({ ...input(s, notifiedLog(s, T0), T0), recheckAt: T0 + MIN })).toBe(T0 + MIN);
    expect(nextWakeAt({ ...input(s, notifiedLog(s, T0), T0, {}, info), recheckAt: T0 + MIN })).toBe(T0 + MIN);
  });
});
