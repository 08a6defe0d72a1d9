/**
 * Property-based fuzz of the webhook parser (fast-check): arbitrary JSON, and valid Alertmanager payloads
 * with fields replaced by arbitrary values. The parser never throws; what it accepts is a well-formed
 * payload (RFC 3339 times that are real dates, string label sets, alerts within the cap) that the merge can
 * take; what it refuses comes with the paths of the bad fields.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasFiringAlert, mergeWebhook } from '../../src/dedupe/merge.js';
import { isRfc3339, parseWebhook } from '../../src/receive/schema.js';
import { fixture } from '../support/fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const MAX_ALERTS = 5;
const NOW = Date.parse('2026-11-26T03:30:00Z');

function check(condition: boolean, what: string, value?: unknown): void {
  if (!condition)
    throw new Error(`${what}${value === undefined ? '' : `: ${JSON.stringify(value).slice(0, 300)}`}`);
}

/** What an accepted payload must be, and what the merge must then do without throwing. */
function checkOutcome(body: unknown): void {
  const result = parseWebhook(body, MAX_ALERTS);
  if (!result.ok) {
    check(result.issues.length > 0, 'refused without issues');
    for (const issue of result.issues)
      check(
        typeof issue.path === 'string' && issue.message.length > 0,
        'issue without path or message',
        issue,
      );
    return;
  }
  const { payload } = result;
  check(payload.alerts.length <= MAX_ALERTS, 'alerts beyond the cap');
  check(Number.isInteger(payload.truncatedAlerts) && payload.truncatedAlerts >= 0, 'bad truncatedAlerts');
  for (const alert of payload.alerts) {
    check(isRfc3339(alert.startsAt) && Number.isFinite(Date.parse(alert.startsAt)), 'bad startsAt', alert);
    check(isRfc3339(alert.endsAt) && Number.isFinite(Date.parse(alert.endsAt)), 'bad endsAt', alert);
    for (const set of [alert.labels, alert.annotations])
      for (const value of Object.values(set)) check(typeof value === 'string', 'non-string label', set);
  }
  const merged = mergeWebhook(undefined, payload, NOW);
  check(merged.snapshot.alerts.length <= payload.alerts.length, 'merge invented alerts');
  hasFiringAlert(payload);
}

const PATHS: (string | number)[][] = [
  ['version'],
  ['groupKey'],
  ['status'],
  ['receiver'],
  ['groupLabels'],
  ['commonLabels'],
  ['commonAnnotations'],
  ['externalURL'],
  ['truncatedAlerts'],
  ['alerts'],
  ['alerts', 0],
  ['alerts', 0, 'status'],
  ['alerts', 0, 'labels'],
  ['alerts', 0, 'labels', 'severity'],
  ['alerts', 0, 'annotations'],
  ['alerts', 0, 'startsAt'],
  ['alerts', 0, 'endsAt'],
  ['alerts', 0, 'fingerprint'],
  ['alerts', 0, 'generatorURL'],
  ['alerts', 1, 'startsAt'],
];

const timestampLike = fc.oneof(
  fc
    .date({
      min: new Date('0001-01-01T00:00:00Z'),
      max: new Date('9999-12-31T23:59:59Z'),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString()),
  fc
    .tuple(
      fc.integer({ min: 0, max: 9999 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 25 }),
      fc.integer({ min: 0, max: 61 }),
      fc.constantFrom('Z', '+01:00', '-23:59', '+24:00', '', 'z', '.123456789Z'),
    )
    .map(
      ([y, mo, d, h, mi, zone]) =>
        `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:00${zone}`,
    ),
  fc.constantFrom(
    '0',
    '',
    '0001-01-01T00:00:00Z',
    '+275760-09-13T00:00:00Z',
    'yesterday',
    '2026-02-30T00:00:00Z',
  ),
  fc.string(),
);

const anyValue = fc.oneof(
  { weight: 3, arbitrary: fc.anything({ withObjectString: true, withNullPrototype: true, maxDepth: 3 }) },
  { weight: 2, arbitrary: timestampLike },
  { weight: 1, arbitrary: fc.dictionary(fc.string(), fc.string({ unit: 'binary' })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'firing', 'resolved', '4', 4, -1, 1.5),
  },
);

function setPath(target: unknown, path: (string | number)[], value: unknown): void {
  let node = target as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) return;
    node = next as Record<string | number, unknown>;
  }
  node[path.at(-1)!] = value;
}

describe('webhook parser fuzz', () => {
  it(`never throws on ${RUNS} arbitrary JSON values`, () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (body) => checkOutcome(body)),
      { numRuns: RUNS },
    );
  });

  it(`never throws on ${RUNS} real payloads with fields replaced by arbitrary values`, () => {
    const bases = [fixture('firing-reefer-excursion'), fixture('group-truncated-replica-a')];
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...bases),
        fc.array(fc.tuple(fc.constantFrom(...PATHS), anyValue), { minLength: 1, maxLength: 4 }),
        (base, edits) => {
          const body = structuredClone(base) as unknown;
          for (const [path, value] of edits) setPath(body, path, value);
          if (parseWebhook(body, MAX_ALERTS).ok) accepted++;
          checkOutcome(body);
        },
      ),
      { numRuns: RUNS },
    );
    // The edits must leave some payloads valid, or the accepted branch would go unchecked.
    expect(accepted).toBeGreaterThan(RUNS / 20);
  });

  it(`accepts a timestamp only when it is RFC 3339 and a real date (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(timestampLike, (value) => {
        const ok = isRfc3339(value);
        const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(
          value,
        );
        if (!ok) return;
        check(m !== null, 'accepted a non-RFC 3339 string', value);
        const [year, month, day] = [Number(m![1]), Number(m![2]), Number(m![3])];
        const date = new Date(Date.UTC(2000, month - 1, day));
        date.setUTCFullYear(year);
        check(
          date.getUTCDate() === day && date.getUTCMonth() === month - 1,
          'accepted a day that does not exist',
          value,
        );
        check(Number.isFinite(Date.parse(value)), 'accepted what Date cannot read', value);
      }),
      { numRuns: RUNS },
    );
    // Every instant Date can write between years 1 and 9999 is accepted.
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0001-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (d) => check(isRfc3339(d.toISOString()), 'refused a real instant', d.toISOString()),
      ),
      { numRuns: 1000 },
    );
  });
});
