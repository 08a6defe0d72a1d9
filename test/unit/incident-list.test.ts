/**
 * The incident list's pure parts: the cursor, the item built from what the relay stores (status words,
 * next reminder with pauses, cold-chain summary, last outcomes), the filters, and the timeline's new entries.
 */
import { describe, expect, it } from 'vitest';
import { buildTimeline } from '../../src/ack/timeline.js';
import { FileContextProvider } from '../../src/context/index.js';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import { createContextStage } from '../../src/deliver/context-stage.js';
import { type DeliveryLog, EMPTY_LOG, type IncidentFlags } from '../../src/domain/delivery-log.js';
import type { DeliveryTarget, IncidentSnapshot } from '../../src/domain/model.js';
import { firingKeys, toldStateOf } from '../../src/domain/plan.js';
import { decodeCursor, encodeCursor } from '../../src/incidents/cursor.js';
import {
  buildListItem,
  type IncidentRecord,
  listStatusOf,
  matchesFilter,
  statusMatches,
} from '../../src/incidents/list-item.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { fixture } from '../support/fixtures.js';

const T0 = Date.parse('2026-11-26T03:00:00Z');
const MIN = 60_000;
const slack: DeliveryTarget = {
  id: 'dslack',
  kind: 'slack',
  target: '#alerts-critical',
  route: 'critical',
  repeatSeconds: 300,
  broadcastReminders: false,
};
const email: DeliveryTarget = { ...slack, id: 'dmail', kind: 'email', target: 'oncall@example.com' };

/** A reefer fixture with its alerts started 5 minutes before T0. */
function reeferPayload(name: 'firing-reefer-excursion' | 'resolved-reefer-excursion'): WebhookPayload {
  const payload = fixture(name);
  for (const a of payload.alerts) a.startsAt = new Date(T0 - 5 * MIN).toISOString();
  return payload;
}

/** The reefer incident as the relay stores it, heard at T0. */
function reefer(mutate: (p: WebhookPayload) => void = () => {}): IncidentSnapshot {
  const payload = reeferPayload('firing-reefer-excursion');
  mutate(payload);
  return { ...mergeWebhook(undefined, payload, T0).snapshot, deliveries: [slack, email] };
}

function notified(
  snapshot: IncidentSnapshot,
  at: number,
  outcome: 'delivered' | 'dead_lettered',
): DeliveryLog {
  return {
    ...structuredClone(EMPTY_LOG),
    root: { channel: 'C1', ts: '1.1', at },
    told: toldStateOf(snapshot),
    lastNotifiedAt: at,
    lastOutcome: outcome,
    events: [{ at, action: 'post', outcome: 'delivered' }],
  };
}

function record(snapshot: IncidentSnapshot, flags: IncidentFlags = {}): IncidentRecord {
  return {
    snapshot,
    flags,
    deliveries: [
      { target: slack, log: notified(snapshot, T0, 'delivered') },
      { target: email, log: notified(snapshot, T0 + MIN, 'delivered') },
    ],
  };
}

describe('cursor', () => {
  it('round-trips an index position and is base64url', () => {
    const cursor = encodeCursor({ startedAt: T0, member: '0123456789abcdef/fedcba9876543210' });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual({
      ok: true,
      position: { startedAt: T0, member: '0123456789abcdef/fedcba9876543210' },
    });
  });

  it.each([
    ['not base64url', 'abc$def'],
    ['not JSON inside', Buffer.from('{nope').toString('base64url')],
    ['not a position', Buffer.from('{"a":1}').toString('base64url')],
    ['bad start time', Buffer.from('[-5,"g/i"]').toString('base64url')],
    ['bad start time', Buffer.from('["1","g/i"]').toString('base64url')],
    ['bad incident reference', Buffer.from('[1,"no-slash"]').toString('base64url')],
    ['bad incident reference', Buffer.from('[1,"g/i/j"]').toString('base64url')],
  ])('refuses a cursor that is %s', (why, cursor) => {
    const result = decodeCursor(cursor);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain(`(${why})`);
  });
});

describe('list status', () => {
  it('is resolved, acknowledged, silenced or firing, the most specific first', () => {
    const s = reefer();
    const ack = { by: 'ana', at: T0, alertKeys: firingKeys(s), truncatedAlerts: 0 };
    expect(listStatusOf(s, {}, T0)).toBe('firing');
    expect(listStatusOf(s, { acknowledged: ack, silencedUntil: T0 + MIN }, T0)).toBe('acknowledged');
    expect(listStatusOf(s, { silencedUntil: T0 + MIN }, T0)).toBe('silenced');
    expect(listStatusOf(s, { silencedUntil: T0 - 1 }, T0)).toBe('firing');
    const resolved = mergeWebhook(s, reeferPayload('resolved-reefer-excursion'), T0 + MIN).snapshot;
    expect(listStatusOf(resolved, { acknowledged: ack }, T0)).toBe('resolved');
  });

  it('is firing again when an alert joins after the acknowledgement (it covers only what was firing)', () => {
    const s = reefer();
    const ack = { by: 'ana', at: T0, alertKeys: ['other@2026-01-01T00:00:00Z'], truncatedAlerts: 0 };
    expect(listStatusOf(s, { acknowledged: ack }, T0)).toBe('firing');
  });

  it('filter status=firing means open (acknowledged and silenced included); the others match exactly', () => {
    expect(
      ['firing', 'acknowledged', 'silenced', 'resolved'].map((s) => statusMatches('firing', s as never)),
    ).toEqual([true, true, true, false]);
    expect(statusMatches('acknowledged', 'silenced')).toBe(false);
    expect(statusMatches('resolved', 'resolved')).toBe(true);
    expect(statusMatches(undefined, 'resolved')).toBe(true);
  });
});

describe('list item', () => {
  it('carries title, severity, status, firing since, escalation step, deliveries and the next reminder', () => {
    const s = reefer();
    const r = record(s, {
      escalation: { rule: 'pharma', reason: 'budget', severity: 'critical', at: T0 },
      ladder: {
        route: 'critical',
        steps: [{ step: 0, at: T0 + MIN, targets: ['#ops'], mentions: [], unknown: [] }],
      },
    });
    r.deliveries[1]!.log.lastOutcome = 'dead_lettered';
    r.deliveries[1]!.log.events.push({ at: T0 + 2 * MIN, action: 'dead_letter', outcome: 'dead_lettered' });
    const item = buildListItem(r, T0 + 2 * MIN);
    expect(item).toMatchObject({
      id: s.incidentId,
      title: expect.stringContaining('ReeferTemperatureExcursion'),
      severity: 'critical',
      status: 'firing',
      firingSince: new Date(T0 - 5 * MIN).toISOString(),
      escalationStep: 1,
      // The Slack delivery reminds first: 5 min after T0, its last message.
      nextReminderAt: new Date(T0 + 5 * MIN).toISOString(),
      coldChain: { vehicles: ['TRK-0042'], shipments: ['SHP-2026-11-0193'] },
    });
    expect(item.resolvedAt).toBeUndefined();
    expect(item.deliveries).toEqual([
      {
        id: 'dslack',
        kind: 'slack',
        target: '#alerts-critical',
        lastOutcome: 'delivered',
        lastAt: new Date(T0).toISOString(),
      },
      {
        id: 'dmail',
        kind: 'email',
        target: 'oncall@example.com',
        lastOutcome: 'dead_lettered',
        lastAt: new Date(T0 + 2 * MIN).toISOString(),
      },
    ]);
  });

  it('has no next reminder while acknowledged, and the silence end when a silence outlasts the due time', () => {
    const s = reefer();
    const ack = { by: 'ana', at: T0, alertKeys: firingKeys(s), truncatedAlerts: 0 };
    const acked = buildListItem(record(s, { acknowledged: ack }), T0 + MIN);
    expect(acked.nextReminderAt).toBeUndefined();
    expect(acked.acknowledgedBy).toBe('ana');
    const until = T0 + 60 * MIN;
    const silenced = buildListItem(record(s, { silencedUntil: until }), T0 + MIN);
    expect(silenced.status).toBe('silenced');
    expect(silenced.silencedUntil).toBe(new Date(until).toISOString());
    expect(silenced.nextReminderAt).toBe(new Date(until).toISOString());
  });

  it('reminds at the escalated repeat when escalation added a more frequent destination', () => {
    const s = reefer();
    const extra = { ...email, id: 'dqa', target: 'qa@example.com', repeatSeconds: 60 };
    const item = buildListItem(
      record(s, { escalation: { rule: 'pharma', reason: 'budget' }, extraDeliveries: [extra] }),
      T0,
    );
    // The extra destination has not been told yet (no log): the first two remind every 60 s now.
    expect(item.nextReminderAt).toBe(new Date(T0 + MIN).toISOString());
  });

  it('has no next reminder once resolved, and shows the budget used up to the resolve', () => {
    const firing = reefer();
    const resolved = mergeWebhook(firing, reeferPayload('resolved-reefer-excursion'), T0 + 10 * MIN).snapshot;
    const r = record(resolved);
    r.coldChain = {
      vehicles: ['TRK-0042'],
      shipments: ['SHP-2026-11-0193'],
      cargoRanges: ['2–8 °C (chilled pharma)'],
      budgets: [{ startedAt: T0 - 5 * MIN, allowanceMinutes: 30 }],
    };
    const item = buildListItem(r, T0 + 60 * MIN);
    expect(item.status).toBe('resolved');
    expect(item.resolvedAt).toBe(new Date(T0 + 10 * MIN).toISOString());
    expect(item.nextReminderAt).toBeUndefined();
    // 15 of 30 minutes: counted to the resolve, not to now.
    expect(item.coldChain).toEqual({
      vehicles: ['TRK-0042'],
      shipments: ['SHP-2026-11-0193'],
      cargoRange: '2–8 °C (chilled pharma)',
      budgetUsedPct: 50,
    });
  });

  it('takes its cold chain from the context the worker described, shipments the labels do not name included', async () => {
    const s = reefer((p) => {
      for (const a of p.alerts) {
        a.labels = { ...a.labels, vehicle_id: 'TRK-0128' };
        delete a.labels.shipment_id;
      }
      delete p.commonLabels.shipment_id;
      p.commonLabels.vehicle_id = 'TRK-0128';
    });
    const stage = createContextStage({
      provider: FileContextProvider.fromFile(),
      deadlineMs: 1000,
      onUnavailable: () => {},
    });
    const outcome = await stage.describe(s, T0);
    const item = buildListItem({ ...record(s), coldChain: outcome.coldChain }, T0 + 10 * MIN);
    expect(item.coldChain.vehicles).toEqual(['TRK-0128']);
    expect(item.coldChain.shipments).toEqual(['SHP-0128', 'SHP-0129']);
    expect(item.coldChain.cargoRange).toBe(
      '−25 to −15 °C (deep-frozen pharma), 15–25 °C (controlled room temperature)',
    );
    // Started 5 minutes before T0; read 10 minutes after: 15 of deep-frozen pharma's 15 minutes.
    expect(item.coldChain.budgetUsedPct).toBe(100);
  });

  it('matches severity, vehicle and shipment filters exactly', () => {
    const item = buildListItem(record(reefer()), T0);
    expect(matchesFilter(item, {})).toBe(true);
    expect(matchesFilter(item, { severity: 'critical', vehicle: 'TRK-0042' })).toBe(true);
    expect(matchesFilter(item, { severity: 'warning' })).toBe(false);
    expect(matchesFilter(item, { vehicle: 'TRK-004' })).toBe(false);
    expect(matchesFilter(item, { shipment: 'SHP-2026-11-0193', status: 'firing' })).toBe(true);
    expect(matchesFilter(item, { shipment: 'SHP-0042' })).toBe(false);
    expect(matchesFilter(item, { status: 'resolved' })).toBe(false);
  });
});

describe('timeline', () => {
  it('shows dead letters with their reason, escalation and ladder steps at their time, lapses, and the next reminder', () => {
    const s = reefer();
    const r = record(s, {
      escalation: { rule: 'pharma', reason: 'budget 50% used', at: T0 + 3 * MIN },
      ladder: {
        route: 'critical',
        steps: [{ step: 0, at: T0 + 4 * MIN, targets: ['#ops'], mentions: ['U1'], unknown: [] }],
      },
      ackLapses: [{ by: 'ana', at: T0 + 2 * MIN }],
    });
    r.deliveries[1]!.log.events.push({
      at: T0 + 90_000,
      action: 'dead_letter',
      outcome: 'dead_lettered',
      detail: 'SMTP 550 mailbox unavailable',
    });
    const timeline = buildTimeline(
      s,
      r.flags,
      r.deliveries.map((d) => d.target),
      r.deliveries.map((d) => d.log),
      { now: T0 + 4 * MIN },
    );
    const at = (ms: number) => new Date(ms).toISOString();
    expect(timeline.map((e) => [e.at, e.event])).toEqual([
      [at(T0 - 5 * MIN), 'fired'],
      [at(T0), 'received'],
      [at(T0), 'notified'],
      [at(T0 + MIN), 'notified'],
      [at(T0 + 90_000), 'dead-lettered'],
      [at(T0 + 2 * MIN), 'acknowledgement lapsed'],
      [at(T0 + 3 * MIN), 'escalated'],
      [at(T0 + 4 * MIN), 'escalated'],
      [at(T0 + 5 * MIN), 'next reminder'],
    ]);
    expect(timeline[4]!.detail).toBe('email oncall@example.com: SMTP 550 mailbox unavailable');
    expect(timeline[7]!.detail).toBe('Escalated to #ops without acknowledgement');
  });

  it('keeps the escalation at the incident start when its time was not recorded, and no next reminder without now', () => {
    const s = reefer();
    const r = record(s, { escalation: { rule: 'pharma', reason: 'budget' } });
    const timeline = buildTimeline(
      s,
      r.flags,
      r.deliveries.map((d) => d.target),
      r.deliveries.map((d) => d.log),
    );
    expect(timeline.find((e) => e.event === 'escalated')?.at).toBe(new Date(T0).toISOString());
    expect(timeline.some((e) => e.event === 'next reminder')).toBe(false);
  });
});
