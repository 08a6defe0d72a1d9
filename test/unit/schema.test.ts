import { describe, expect, it } from 'vitest';
import { parseWebhook, webhookSchema } from '../../src/receive/schema.js';
import { fixture, fixtureText } from '../support/fixtures.js';

describe('parseWebhook', () => {
  it('accepts every payload captured from Alertmanager 0.25', () => {
    for (const name of [
      'firing-high-cpu',
      'group-truncated-replica-a',
      'resolved-reefer-excursion',
    ] as const) {
      const result = parseWebhook(JSON.parse(fixtureText(name)), 100);
      expect(result.ok, name).toBe(true);
    }
  });

  it('accepts the newer optional fields and tolerates unknown ones', () => {
    const body = {
      ...fixture('firing-high-cpu'),
      notification_reason: 'new_alert',
      routeLabels: { team: 'ops' },
      future: 1,
    };
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

describe('parseWebhook fast path (label sets checked in one loop, the full schema otherwise)', () => {
  const base = () =>
    structuredClone(fixture('group-truncated-replica-a')) as unknown as Record<string, unknown>;
  const firstAlert = (body: Record<string, unknown>) => (body.alerts as Record<string, unknown>[])[0]!;
  const variants: [string, (body: Record<string, unknown>) => void][] = [
    ['unchanged', () => {}],
    [
      'no annotations, commonAnnotations, generatorURL, truncatedAlerts or externalURL (defaults)',
      (b) => {
        delete firstAlert(b).annotations;
        delete firstAlert(b).generatorURL;
        delete b.commonAnnotations;
        delete b.truncatedAlerts;
        delete b.externalURL;
      },
    ],
    [
      'unknown fields at both levels',
      (b) => {
        b.future = { nested: [1, 2] };
        firstAlert(b).extra = 'x';
      },
    ],
    [
      'routeLabels and notification_reason',
      (b) => {
        b.routeLabels = { team: 'ops' };
        b.notification_reason = 'new_alert';
      },
    ],
    [
      'empty label sets',
      (b) => {
        b.groupLabels = {};
        firstAlert(b).annotations = {};
      },
    ],
    [
      'a numeric label value',
      (b) => {
        (firstAlert(b).labels as Record<string, unknown>).replicas = 3;
      },
    ],
    [
      'a null label value',
      (b) => {
        (b.commonLabels as Record<string, unknown>).zone = null;
      },
    ],
    [
      'labels that are an array',
      (b) => {
        firstAlert(b).labels = ['a'];
      },
    ],
    [
      'labels missing',
      (b) => {
        delete firstAlert(b).labels;
      },
    ],
    [
      'a __proto__ label, which the record schema drops',
      (b) => {
        firstAlert(b).labels = JSON.parse('{"alertname":"X","__proto__":"y"}');
      },
    ],
    [
      'routeLabels with a non-string value',
      (b) => {
        b.routeLabels = { team: 1 };
      },
    ],
  ];

  for (const [name, mutate] of variants) {
    it(`gives the full schema's result: ${name}`, () => {
      const body = base();
      mutate(body);
      const text = JSON.stringify(body); // parsed from text, as the receiver sees it
      const viaFull = webhookSchema.safeParse(JSON.parse(text));
      const result = parseWebhook(JSON.parse(text), 500);
      expect(result.ok).toBe(viaFull.success);
      if (result.ok && viaFull.success) expect(result.payload).toStrictEqual(viaFull.data);
      if (!result.ok && !viaFull.success) {
        expect(result.issues.map((i) => i.path)).toEqual(
          viaFull.error.issues.map((i) => i.path.join('.') || '(body)'),
        );
      }
    });
  }

  it('takes the fast path for a plain payload (label sets are passed through, not copied)', () => {
    const input = JSON.parse(fixtureText('firing-high-cpu')) as { alerts: { labels: object }[] };
    const result = parseWebhook(input, 500);
    expect(result.ok && result.payload.alerts[0]!.labels).toBe(input.alerts[0]!.labels);
  });
});

describe('timestamps (RFC 3339 as Alertmanager sends it)', () => {
  const withTimes = (startsAt: string, endsAt = '0001-01-01T00:00:00Z') => {
    const body = structuredClone(fixture('firing-high-cpu'));
    body.alerts[0]!.startsAt = startsAt;
    body.alerts[0]!.endsAt = endsAt;
    return parseWebhook(body, 100);
  };

  it.each([
    ['a bare number', '0'],
    ['a day that does not exist', '2026-02-30T05:00:00Z'],
    ['a year beyond four digits', '+275760-09-13T00:00:00Z'],
    ['no time zone', '2026-11-26T05:00:00'],
    ['a space instead of T and no zone', '2026-11-26 05:00:00'],
    ['an hour 24', '2026-11-26T24:00:00Z'],
    ['a date only', '2026-11-26'],
    ['the zero time as a start', '0001-01-01T00:00:00Z'],
  ])('refuses %s as startsAt with 422 naming the field', (_name, value) => {
    const result = withTimes(value);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path)).toEqual(['alerts.0.startsAt']);
    expect(result.issues[0]!.message).toMatch(/RFC 3339/);
  });

  it('refuses an impossible endsAt, naming it', () => {
    const result = withTimes('2026-11-26T05:00:00Z', '2026-13-01T00:00:00Z');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path)).toEqual(['alerts.0.endsAt']);
  });

  it.each([
    ['UTC with Z', '2026-11-26T05:00:00Z'],
    ['nanoseconds (Go)', '2026-11-26T05:00:00.123456789Z'],
    ['an offset', '2026-11-26T06:00:00.5+01:00'],
    ['a leap day', '2024-02-29T23:59:59Z'],
  ])('accepts %s', (_name, value) => {
    expect(withTimes(value, value).ok).toBe(true);
  });

  it('accepts 0001-01-01T00:00:00Z as endsAt (no end)', () => {
    expect(withTimes('2026-11-26T05:00:00Z', '0001-01-01T00:00:00Z').ok).toBe(true);
  });
});
