import { describe, expect, it } from 'vitest';
import { renderSlackRoot } from '../../src/channels/slack/blocks.js';
import {
  hasFiringAlert,
  MAX_INCIDENT_ALERTS,
  MAX_INCIDENT_BYTES,
  mergeWebhook,
  severityOf,
} from '../../src/dedupe/merge.js';
import type { IncidentSnapshot } from '../../src/domain/model.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { buildView } from '../../src/render/view.js';
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

describe('a webhook with no firing alert', () => {
  it('cannot open an incident: only a shown or a truncated (hidden) firing alert can', () => {
    const base = fixture('firing-reefer-excursion');
    expect(hasFiringAlert({ ...base, alerts: [] })).toBe(false);
    expect(hasFiringAlert(fixture('resolved-reefer-excursion'))).toBe(false);
    expect(hasFiringAlert(base)).toBe(true);
    expect(hasFiringAlert({ ...base, alerts: [], truncatedAlerts: 3 })).toBe(true);
    // A resolved group whose payload left firing alerts out is not news of a firing.
    expect(hasFiringAlert({ ...fixture('resolved-reefer-excursion'), truncatedAlerts: 3 })).toBe(false);
  });
});

describe('bounded incident snapshots', () => {
  /** One webhook of `count` new firing alerts, numbered from `from`. */
  function batch(from: number, count: number, summary = 'x') {
    const payload = structuredClone(fixture('firing-high-cpu'));
    const base = payload.alerts[0]!;
    payload.alerts = Array.from({ length: count }, (_, i) => ({
      ...base,
      fingerprint: `fp${from + i}`,
      labels: { ...base.labels, instance: `host-${from + i}:9100` },
      annotations: { summary },
    }));
    return payload;
  }

  it('keeps at most MAX_INCIDENT_ALERTS alerts however many webhooks add new ones, and counts the rest', () => {
    let snapshot: IncidentSnapshot | undefined;
    for (let i = 0; i < 60; i++) snapshot = mergeWebhook(snapshot, batch(i * 500, 500), T0 + i).snapshot;
    expect(snapshot!.alerts.length).toBe(MAX_INCIDENT_ALERTS);
    expect(snapshot!.omittedAlerts).toBe(60 * 500 - MAX_INCIDENT_ALERTS);
    expect(JSON.stringify(snapshot).length).toBeLessThan(MAX_INCIDENT_BYTES + 64 * 1024);
    // The newest alerts (this webhook's) are kept.
    expect(snapshot!.alerts.some((a) => a.fingerprint === 'fp29999')).toBe(true);
    const rendered = JSON.stringify(renderSlackRoot(buildView(snapshot!, { now: T0 })));
    expect(rendered).toContain(`and ${60 * 500 - 20} more`);
  });

  it('lets resolved alerts go first', () => {
    let snapshot = mergeWebhook(undefined, batch(0, MAX_INCIDENT_ALERTS), T0).snapshot;
    const resolving = batch(0, 10);
    for (const alert of resolving.alerts) {
      alert.status = 'resolved';
      alert.endsAt = '2026-11-26T06:00:00Z';
    }
    snapshot = mergeWebhook(snapshot, resolving, T0 + 1).snapshot;
    snapshot = mergeWebhook(snapshot, batch(MAX_INCIDENT_ALERTS, 10), T0 + 2).snapshot;
    expect(snapshot.alerts.length).toBe(MAX_INCIDENT_ALERTS);
    expect(snapshot.alerts.filter((a) => a.status === 'resolved')).toHaveLength(0);
    expect(snapshot.alerts.filter((a) => a.status === 'firing')).toHaveLength(MAX_INCIDENT_ALERTS);
    expect(snapshot.omittedAlerts).toBe(10);
    expect(snapshot.status).toBe('firing');
  });

  it('bounds the bytes of an incident: big annotations make fewer alerts fit', () => {
    let snapshot: IncidentSnapshot | undefined;
    const big = 'y'.repeat(20_000);
    for (let i = 0; i < 10; i++) snapshot = mergeWebhook(snapshot, batch(i * 40, 40, big), T0 + i).snapshot;
    expect(JSON.stringify(snapshot).length).toBeLessThan(MAX_INCIDENT_BYTES + 64 * 1024);
    expect(snapshot!.alerts.length).toBeGreaterThan(0);
    expect(snapshot!.alerts.length + snapshot!.omittedAlerts!).toBe(400);
    expect(snapshot!.status).toBe('firing');
  });

  it('counts a webhook that only evicts alerts as a change', () => {
    const first = mergeWebhook(undefined, batch(0, MAX_INCIDENT_ALERTS), T0).snapshot;
    const next = mergeWebhook(first, batch(MAX_INCIDENT_ALERTS, 1), T0 + 1);
    expect(next.changed).toBe(true);
    expect(next.snapshot.omittedAlerts).toBe(1);
    // The same copy again changes nothing.
    expect(mergeWebhook(next.snapshot, batch(MAX_INCIDENT_ALERTS, 1), T0 + 2).changed).toBe(false);
  });
});
