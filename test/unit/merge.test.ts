import { describe, expect, it } from 'vitest';
import { mergeWebhook, severityOf } from '../../src/dedupe/merge.js';
import type { IncidentSnapshot } from '../../src/model.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { fixture } from '../support/fixtures.js';

const T0 = 1_800_000_000_000;

function replay(payloads: WebhookPayload[]): {
  snapshot: IncidentSnapshot;
  changed: boolean[];
  incidents: string[];
} {
  let snapshot: IncidentSnapshot | undefined;
  const changed: boolean[] = [];
  const incidents: string[] = [];
  payloads.forEach((p, i) => {
    const result = mergeWebhook(snapshot, p, T0 + i * 1000);
    snapshot = result.snapshot;
    changed.push(result.changed);
    incidents.push(result.snapshot.incidentId);
  });
  return { snapshot: snapshot!, changed, incidents };
}

describe('mergeWebhook', () => {
  it('treats the repeat notification (byte-identical to the first) as a duplicate', () => {
    const { changed, snapshot } = replay([
      fixture('firing-reefer-excursion'),
      fixture('repeat-reefer-excursion'),
    ]);
    expect(changed).toEqual([true, false]);
    expect(snapshot.status).toBe('firing');
    expect(snapshot.lastSeenAt).toBe(T0 + 1000);
  });

  it('treats the other replica of a partitioned pair as a duplicate although externalURL differs', () => {
    const a = fixture('group-first-replica-a');
    const b = fixture('group-first-replica-b');
    expect(a.externalURL).not.toBe(b.externalURL);
    const { changed, incidents, snapshot } = replay([a, b]);
    expect(changed).toEqual([true, false]);
    expect(new Set(incidents).size).toBe(1);
    // The episode keeps the first sender's URL, so a message linking to it does not flip between replicas.
    expect(snapshot.externalURL).toBe(a.externalURL);
  });

  it("resolves an incident, and a lagging replica's older firing copy cannot re-open it", () => {
    const firing = fixture('firing-postgresql-down');
    const resolved = fixture('resolved-postgresql-down');
    const { changed, snapshot, incidents } = replay([firing, resolved, firing]);
    expect(changed).toEqual([true, true, false]);
    expect(snapshot.status).toBe('resolved');
    expect(snapshot.alerts.map((a) => a.status)).toEqual(['resolved']);
    expect(new Set(incidents).size).toBe(1);
  });

  it('starts a new incident when the same alert fires again with a new startsAt', () => {
    const firing = fixture('firing-postgresql-down');
    const again = structuredClone(firing);
    again.alerts[0]!.startsAt = '2026-11-26T05:00:00Z';
    const { changed, incidents, snapshot } = replay([firing, fixture('resolved-postgresql-down'), again]);
    expect(changed).toEqual([true, true, true]);
    expect(incidents[2]).not.toBe(incidents[0]);
    expect(snapshot.status).toBe('firing');
    expect(snapshot.alerts).toHaveLength(1);
    expect(snapshot.startedAt).toBe(T0 + 2000);
  });

  it('records a truncated group, and keeps alerts Alertmanager left out of a later payload', () => {
    const { changed, snapshot } = replay([
      fixture('group-first-replica-a'),
      fixture('group-truncated-replica-a'),
      fixture('group-truncated-replica-b'),
    ]);
    expect(changed).toEqual([true, true, false]);
    expect(snapshot.truncatedAlerts).toBe(1);
    expect(snapshot.status).toBe('firing');
  });

  it('records a partial resolve (status firing with one alert resolved) as a change', () => {
    const { changed, snapshot } = replay([
      fixture('group-first-replica-a'),
      fixture('group-truncated-replica-a'),
      fixture('group-partial-resolve-replica-a'),
      fixture('group-partial-resolve-replica-b'),
    ]);
    expect(changed).toEqual([true, true, true, false]);
    expect(snapshot.status).toBe('firing');
    expect(snapshot.alerts.filter((a) => a.status === 'resolved')).toHaveLength(1);
    expect(snapshot.alerts.filter((a) => a.status === 'firing').length).toBeGreaterThanOrEqual(1);
  });

  it('does not let the truncated payload of a lagging replica undo a partial resolve', () => {
    const { changed, snapshot } = replay([
      fixture('group-truncated-replica-a'),
      fixture('group-partial-resolve-replica-a'),
      fixture('group-truncated-replica-b'),
    ]);
    expect(changed[2]).toBe(false);
    expect(snapshot.alerts.filter((a) => a.status === 'resolved')).toHaveLength(1);
  });

  it('uses the highest firing severity when severity is not a common label', () => {
    const p = fixture('firing-high-cpu');
    const alerts = [
      { ...p.alerts[0]!, labels: { ...p.alerts[0]!.labels, severity: 'warning' } },
      { ...p.alerts[0]!, fingerprint: 'b', labels: { ...p.alerts[0]!.labels, severity: 'critical' } },
      { ...p.alerts[0]!, fingerprint: 'c', status: 'resolved' as const, labels: { severity: 'info' } },
    ];
    expect(severityOf({}, alerts)).toBe('critical');
    expect(severityOf({ severity: 'info' }, alerts)).toBe('info');
  });
});
