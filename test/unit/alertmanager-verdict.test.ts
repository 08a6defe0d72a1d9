/**
 * What Alertmanager's answers say about an incident's firing alerts (src/alertmanager/verdict.ts):
 * per answering replica, which alerts are gone, silenced or active; which are resolved in the snapshot; when
 * a silence ended early; when nothing can be concluded.
 */
import { describe, expect, it } from 'vitest';
import {
  ALERTMANAGER_WARMUP_MS,
  type ApiAlert,
  apiAlertsSchema,
  countResolved,
  isUnknown,
  judgeAlertmanager,
  type ReplicaAnswer,
  reminderVerdict,
  resolveGoneAlerts,
  silenceEnded,
} from '../../src/alertmanager/verdict.js';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import type { IncidentSnapshot } from '../../src/domain/model.js';
import { fixture } from '../support/fixtures.js';

const T0 = 1_800_000_000_000;
const A = 'http://am-a:9093';
const B = 'http://am-b:9093';
/** The two alerts of group-first-replica-a. */
const FP1 = '83703cbb3d0eab66';
const FP2 = 'f59a291ce8cf8c46';

function snapshotOf(...names: Parameters<typeof fixture>[0][]): IncidentSnapshot {
  let snapshot: IncidentSnapshot | undefined;
  for (const name of names) snapshot = mergeWebhook(snapshot, fixture(name), T0).snapshot;
  return snapshot!;
}

function alert(fingerprint: string, state: 'active' | 'silenced' | 'inhibited' | 'unprocessed'): ApiAlert {
  return {
    fingerprint,
    status: {
      state: state === 'active' ? 'active' : state === 'unprocessed' ? 'unprocessed' : 'suppressed',
      silencedBy: state === 'silenced' ? ['5e1f2a'] : [],
      inhibitedBy: state === 'inhibited' ? ['a1b2c3'] : [],
    },
    receivers: [{ name: 'relay' }],
  };
}

/**
 * A replica up since before the incident began that sends to the incident's receiver ('relay'): its silence
 * about an alert means the alert ended.
 */
const answer = (url: string, ...alerts: ApiAlert[]): ReplicaAnswer => ({
  url,
  ok: true,
  alerts,
  startedAt: T0 - 3_600_000,
  receivers: ['relay'],
});
const down = (url: string): ReplicaAnswer => ({ url, ok: false, error: 'connect ECONNREFUSED' });

const judge = judgeAlertmanager;

const keyOf = (s: IncidentSnapshot, fingerprint: string) => {
  const a = s.alerts.find((x) => x.fingerprint === fingerprint)!;
  return `${a.fingerprint}@${a.startsAt}`;
};

describe('judgeAlertmanager', () => {
  const group = snapshotOf('group-first-replica-a');
  const now = T0 + 60_000;

  it('reads each firing alert as active, suppressed (silenced or inhibited) or gone', () => {
    const v = judge(group, [answer(A, alert(FP1, 'silenced'))], now);
    expect(v.alerts).toEqual({ [keyOf(group, FP1)]: 'suppressed', [keyOf(group, FP2)]: 'gone' });
    expect(v.silenced).toBe(true);
    expect(v.answered).toEqual([A]);
    expect(v.unreachable).toEqual([]);

    const inhibited = judge(group, [answer(A, alert(FP1, 'inhibited'), alert(FP2, 'active'))], now);
    expect(inhibited.alerts).toEqual({ [keyOf(group, FP1)]: 'suppressed', [keyOf(group, FP2)]: 'active' });
    expect(inhibited.silenced).toBe(false);
  });

  it('counts an alert as there when any answering replica reports it (an unclustered pair each knows part)', () => {
    const v = judge(
      group,
      [answer(A, alert(FP1, 'silenced')), answer(B, alert(FP1, 'active'), alert(FP2, 'silenced'))],
      now,
    );
    expect(v.alerts).toEqual({ [keyOf(group, FP1)]: 'active', [keyOf(group, FP2)]: 'suppressed' });
    expect(reminderVerdict(v)).toBe('active');
  });

  it('skips a replica that does not answer; with none answering nothing is concluded', () => {
    const oneDown = judge(group, [down(A), answer(B, alert(FP1, 'active'))], now);
    expect(oneDown.answered).toEqual([B]);
    expect(oneDown.unreachable).toEqual([A]);
    expect(oneDown.alerts[keyOf(group, FP2)]).toBe('gone');

    const none = judge(group, [down(A), down(B)], now);
    expect(isUnknown(none)).toBe(true);
    expect(none.unreachable).toEqual([A, B]);
    expect(Object.values(none.alerts)).toEqual(['unconfirmed', 'unconfirmed']);
    expect(reminderVerdict(none)).toBe('unknown');
    expect(resolveGoneAlerts(group, none, now)).toBeUndefined();
    expect(silenceEnded(none)).toBe(false);
  });

  it('does not read the silence of an Alertmanager restarted since the incident began as "gone" until it has had time to hear from Prometheus again', () => {
    const restarted = (startedAt: number): ReplicaAnswer => ({
      url: A,
      ok: true,
      alerts: [],
      startedAt,
      receivers: ['relay'],
    });
    const young = judge(group, [restarted(T0 + 30_000)], now);
    expect(young.trusted).toBe(false);
    expect(Object.values(young.alerts)).toEqual(['unconfirmed', 'unconfirmed']);
    expect(resolveGoneAlerts(group, young, now)).toBeUndefined();
    // A reminder is not held back by what a restarted Alertmanager does not know.
    expect(reminderVerdict(young)).toBe('active');

    const warm = judge(group, [restarted(T0 + 30_000)], T0 + 30_000 + ALERTMANAGER_WARMUP_MS);
    expect(Object.values(warm.alerts)).toEqual(['gone', 'gone']);
    // Without a start time (status unreadable), its silence proves nothing either.
    const noStatus = judge(
      group,
      [{ url: A, ok: true, alerts: [], startedAt: undefined, receivers: ['relay'] }],
      now,
    );
    expect(Object.values(noStatus.alerts)).toEqual(['unconfirmed', 'unconfirmed']);
    // What it does report still counts.
    const reports = judge(
      group,
      [{ url: A, ok: true, alerts: [alert(FP1, 'silenced')], startedAt: now, receivers: ['relay'] }],
      now,
    );
    expect(reports.alerts[keyOf(group, FP1)]).toBe('suppressed');
  });

  it("never finds gone an alert of an Alertmanager that does not send to the incident's receiver (a wrong ALERTMANAGER_URL resolves nothing)", () => {
    const other: ReplicaAnswer = { ...answer(A), receivers: ['other-team'] } as ReplicaAnswer;
    const wrong = judge(group, [other], now);
    expect(Object.values(wrong.alerts)).toEqual(['unconfirmed', 'unconfirmed']);
    expect(wrong.trusted).toBe(false);
    expect(resolveGoneAlerts(group, wrong, now)).toBeUndefined();
    expect(reminderVerdict(wrong)).toBe('active');
    // Receivers unreadable: the same.
    const unreadable = judge(group, [{ ...answer(A), receivers: undefined } as ReplicaAnswer], now);
    expect(unreadable.trusted).toBe(false);
    // Beside one that does send to it, its silence no longer matters.
    const both = judge(group, [other, answer(B, alert(FP1, 'silenced'))], now);
    expect(both.alerts).toEqual({ [keyOf(group, FP1)]: 'suppressed', [keyOf(group, FP2)]: 'gone' });
  });

  it('holds a reminder back only when every alert still reported is silenced or inhibited', () => {
    expect(reminderVerdict(judge(group, [answer(A, alert(FP1, 'silenced'))], now))).toBe('suppressed');
    expect(reminderVerdict(judge(group, [answer(A, alert(FP1, 'unprocessed'))], now))).toBe('active');
    expect(
      reminderVerdict(judge(group, [answer(A, alert(FP1, 'inhibited'), alert(FP2, 'active'))], now)),
    ).toBe('active');
  });

  it('parses only a list of alerts: anything else must never read as "no alerts left"', () => {
    expect(apiAlertsSchema.safeParse({ error: 'not found' }).success).toBe(false);
    expect(apiAlertsSchema.safeParse([{ fingerprint: FP1 }]).success).toBe(false);
    expect(apiAlertsSchema.safeParse([]).success).toBe(true);
    expect(
      apiAlertsSchema.safeParse([
        { fingerprint: FP1, status: { state: 'suppressed', silencedBy: ['x'], inhibitedBy: [] }, labels: {} },
      ]).success,
    ).toBe(true);
  });
});

describe('resolveGoneAlerts', () => {
  const now = T0 + 120_000;

  it('resolves the alerts no answering replica reports, and the incident once none fires', () => {
    const group = snapshotOf('group-first-replica-a');
    const partly = resolveGoneAlerts(group, judge(group, [answer(A, alert(FP1, 'silenced'))], now), now)!;
    expect(partly.status).toBe('firing');
    expect(partly.alerts.map((a) => [a.fingerprint, a.status])).toEqual([
      [FP1, 'firing'],
      [FP2, 'resolved'],
    ]);
    expect(partly.alerts[1]!.endsAt).toBe(new Date(now).toISOString());
    expect(countResolved(group, partly)).toBe(1);

    const all = resolveGoneAlerts(partly, judge(partly, [answer(A), answer(B)], now), now)!;
    expect(all.status).toBe('resolved');
    expect(all.resolvedAt).toBe(now);
    expect(all.incidentId).toBe(group.incidentId);
    expect(countResolved(partly, all)).toBe(1);
  });

  it('changes nothing while every firing alert is still reported, in any state', () => {
    const group = snapshotOf('group-first-replica-a');
    const v = judge(group, [answer(A, alert(FP1, 'silenced'), alert(FP2, 'inhibited'))], now);
    expect(resolveGoneAlerts(group, v, now)).toBeUndefined();
  });

  it('keeps an incident firing while alerts max_alerts left out of the webhooks may still fire', () => {
    const truncated = snapshotOf('group-first-replica-a', 'group-truncated-replica-a');
    expect(truncated.truncatedAlerts).toBe(1);
    const hidden = alert('0123456789abcdef', 'silenced');
    const stillHidden = resolveGoneAlerts(truncated, judge(truncated, [answer(A, hidden)], now), now)!;
    expect(stillHidden.alerts.every((a) => a.status === 'resolved')).toBe(true);
    expect(stillHidden.status).toBe('firing');
    // An alert routed to another receiver is not one of this group's hidden ones.
    const elsewhere = { ...hidden, receivers: [{ name: 'other-team' }] };
    const over = resolveGoneAlerts(truncated, judge(truncated, [answer(A, elsewhere)], now), now)!;
    expect(over.status).toBe('resolved');
    expect(over.truncatedAlerts).toBe(0);
  });

  it('leaves a resolved incident alone, and a late resolve webhook merged afterwards is a duplicate', () => {
    const group = snapshotOf('firing-postgresql-down');
    const resolved = resolveGoneAlerts(group, judge(group, [answer(A)], now), now)!;
    expect(resolved.status).toBe('resolved');
    expect(resolveGoneAlerts(resolved, judge(resolved, [answer(A)], now), now)).toBeUndefined();
    const late = mergeWebhook(resolved, fixture('resolved-postgresql-down'), now + 1000);
    expect(late.changed).toBe(false);
    expect(late.snapshot.status).toBe('resolved');
  });
});

describe('silenceEnded', () => {
  const group = snapshotOf('group-first-replica-a');
  const now = T0 + 60_000;

  it('is true once the alerts are reported and no answering replica silences any of them', () => {
    expect(silenceEnded(judge(group, [answer(A, alert(FP1, 'active'), alert(FP2, 'active'))], now))).toBe(
      true,
    );
    // Inhibited but no longer silenced: the silence is over (the reminder check still holds reminders back).
    expect(silenceEnded(judge(group, [answer(A, alert(FP1, 'inhibited'))], now))).toBe(true);
  });

  it('is false while any replica still silences an alert, or when nothing is reported', () => {
    expect(
      silenceEnded(judge(group, [answer(A, alert(FP1, 'active')), answer(B, alert(FP1, 'silenced'))], now)),
    ).toBe(false);
    expect(silenceEnded(judge(group, [answer(A)], now))).toBe(false);
  });
});
