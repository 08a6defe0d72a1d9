import { describe, expect, it } from 'vitest';
import { parseWebhook } from '../../src/receive/schema.js';
import { fixture, fixtureText } from '../support/fixtures.js';

describe('parseWebhook', () => {
  it('accepts every payload captured from Alertmanager 0.25', () => {
    for (const name of ['firing-high-cpu', 'group-truncated-replica-a', 'resolved-reefer-excursion'] as const) {
      const result = parseWebhook(JSON.parse(fixtureText(name)), 100);
      expect(result.ok, name).toBe(true);
    }
  });

  it('accepts the newer optional fields and tolerates unknown ones', () => {
    const body = { ...fixture('firing-high-cpu'), notification_reason: 'new_alert', routeLabels: { team: 'ops' }, future: 1 };
    const result = parseWebhook(body, 100);
    expect(result.ok && result.payload.notification_reason).toBe('new_alert');
  });

  it('names the bad fields of a payload that breaks the schema', () => {
    const body = structuredClone(fixture('firing-high-cpu')) as unknown as Record<string, unknown>;
    body.version = '3';
    (body.alerts as Record<string, unknown>[])[0]!.startsAt = 'yesterday';
    delete body.groupKey;
    const result = parseWebhook(body, 100);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path).sort()).toEqual(['alerts.0.startsAt', 'groupKey', 'version']);
  });

  it('keeps the first alerts beyond the cap and counts the rest as truncated', () => {
    const base = fixture('firing-high-cpu');
    const alerts = Array.from({ length: 7 }, (_, i) => ({ ...base.alerts[0]!, fingerprint: `f${i}` }));
    const result = parseWebhook({ ...base, alerts, truncatedAlerts: 2 }, 5);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.payload.alerts.map((a) => a.fingerprint)).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
    expect(result.payload.truncatedAlerts).toBe(4);
  });
});
