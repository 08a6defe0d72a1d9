import { describe, expect, it } from 'vitest';
import { formatCelsius, formatMinutes, formatRange } from '../../src/context/format-context-lines.js';
import {
  budgetReached,
  buildSilenceUrl,
  excursionBudget,
  isEtaAfterBudget,
  readMeasuredTemperature,
  silenceMatchers,
  temperatureDeviation,
} from '../../src/context/index.js';
import { buildVehicleDashboardUrl, resolveDashboardUrl } from '../../src/context/links.js';
import { makeAlert, minutesBefore, NOW } from './helpers.js';

const chilled = { minC: 2, maxC: 8 };
const frozen = { maxC: -18 };

describe('measured temperature', () => {
  const labels = { alertname: 'ReeferTemperatureExcursion', temperature_c: '9.1' };

  it('comes from the value annotation when the rule measures temperature', () => {
    expect(readMeasuredTemperature(makeAlert({ labels, annotations: { value: '9.4' } }), true)).toBe(9.4);
    expect(readMeasuredTemperature(makeAlert({ labels, annotations: { value: ' -19.25 ' } }), true)).toBe(
      -19.25,
    );
  });

  it('falls back to the temperature_c label', () => {
    expect(readMeasuredTemperature(makeAlert({ labels }), true)).toBe(9.1);
    expect(readMeasuredTemperature(makeAlert({ labels, annotations: { value: 'NaN' } }), true)).toBe(9.1);
    expect(readMeasuredTemperature(makeAlert({ labels, annotations: { value: '' } }), true)).toBe(9.1);
  });

  it('ignores the value annotation of rules that measure something else', () => {
    expect(
      readMeasuredTemperature(
        makeAlert({ labels: { alertname: 'ReeferDoorOpenTooLong' }, annotations: { value: '14' } }),
        false,
      ),
    ).toBe(undefined);
  });
});

describe('temperature deviation', () => {
  it('is the signed distance to the nearest bound', () => {
    const above = temperatureDeviation(9.4, chilled);
    expect(above.direction).toBe('above');
    expect(above.deltaC).toBeCloseTo(1.4, 10);
    const below = temperatureDeviation(-0.5, chilled);
    expect(below.direction).toBe('below');
    expect(below.deltaC).toBeCloseTo(-2.5, 10);
    expect(temperatureDeviation(8, chilled)).toEqual({ direction: 'within', deltaC: 0 });
    expect(temperatureDeviation(2, chilled)).toEqual({ direction: 'within', deltaC: 0 });
  });

  it('handles a class with only an upper bound', () => {
    expect(temperatureDeviation(-30, frozen)).toEqual({ direction: 'within', deltaC: 0 });
    expect(temperatureDeviation(-15, frozen)).toEqual({ direction: 'above', deltaC: 3 });
  });
});

describe('excursion budget', () => {
  it('is the time firing over the allowance', () => {
    const budget = excursionBudget(new Date(minutesBefore(NOW, 19)), NOW, 30);
    expect(budget.elapsedMinutes).toBe(19);
    expect(budget.usedPct).toBeCloseTo(63.333, 3);
    expect(budget.exhaustsAt.toISOString()).toBe('2026-11-26T12:11:00.000Z');
    expect(budget.exhausted).toBe(false);
  });

  it('keeps counting past the allowance and never goes negative', () => {
    expect(excursionBudget(new Date(minutesBefore(NOW, 45)), NOW, 30)).toMatchObject({
      usedPct: 150,
      exhausted: true,
    });
    expect(excursionBudget(new Date(NOW.getTime() + 60_000), NOW, 30)).toMatchObject({
      usedPct: 0,
      elapsedMinutes: 0,
    });
  });

  it('reaches a threshold exactly at its time', () => {
    const startsAt = new Date(minutesBefore(NOW, 15));
    expect(budgetReached(startsAt, NOW, 30, 50)).toBe(true);
    expect(budgetReached(startsAt, new Date(NOW.getTime() - 1), 30, 50)).toBe(false);
  });

  it('says whether the ETA falls after the budget runs out', () => {
    const budget = excursionBudget(new Date(minutesBefore(NOW, 19)), NOW, 30);
    expect(isEtaAfterBudget(new Date('2026-11-26T14:20:00Z'), budget)).toBe(true);
    expect(isEtaAfterBudget(new Date('2026-11-26T12:11:00Z'), budget)).toBe(false);
  });
});

describe('display helpers', () => {
  it('formats ranges, temperatures and durations', () => {
    expect(formatRange(chilled)).toBe('2–8 °C');
    expect(formatRange({ minC: -25, maxC: -15 })).toBe('−25 to −15 °C');
    expect(formatRange(frozen)).toBe('≤ −18 °C');
    expect(formatRange({ minC: 15 })).toBe('≥ 15 °C');
    expect(formatCelsius(9.4000001)).toBe('9.4 °C');
    expect(formatCelsius(1.4000000000000004, true)).toBe('+1.4 °C');
    expect(formatCelsius(-2.5, true)).toBe('−2.5 °C');
    expect([0.5, 19.9, 60, 65, 1500, 2880, 3000].map(formatMinutes)).toEqual([
      '0m',
      '19m',
      '1h',
      '1h 5m',
      '25h',
      '2d',
      '2d 2h',
    ]);
  });
});

describe('links', () => {
  it('pre-fills the Alertmanager silence form, leaving out measurement labels', () => {
    const matchers = silenceMatchers({
      zone: 'cargo-1',
      vehicle_id: 'TRK-0042',
      temperature_c: '9.4',
      alertname: 'ReeferTemperatureExcursion',
    });
    expect(matchers).toEqual([
      ['alertname', 'ReeferTemperatureExcursion'],
      ['vehicle_id', 'TRK-0042'],
      ['zone', 'cargo-1'],
    ]);
    const url = buildSilenceUrl('https://am.example/', matchers);
    expect(url).toBe(
      'https://am.example/#/silences/new?filter=%7Balertname%3D%22ReeferTemperatureExcursion%22%2Cvehicle_id%3D%22TRK-0042%22%2Czone%3D%22cargo-1%22%7D',
    );
    expect(decodeURIComponent(url.split('filter=')[1] ?? '')).toBe(
      '{alertname="ReeferTemperatureExcursion",vehicle_id="TRK-0042",zone="cargo-1"}',
    );
  });

  it('escapes quotes and backslashes in matcher values', () => {
    const url = buildSilenceUrl('https://am.example', [['path', 'C:\\x "y"']]);
    expect(decodeURIComponent(url.split('filter=')[1] ?? '')).toBe('{path="C:\\\\x \\"y\\""}');
  });

  it('resolves dashboard paths against the Grafana base URL', () => {
    expect(resolveDashboardUrl('https://grafana.example/', '/d/db/postgresql')).toBe(
      'https://grafana.example/d/db/postgresql',
    );
    expect(resolveDashboardUrl('https://grafana.example', 'https://other.example/d/x')).toBe(
      'https://other.example/d/x',
    );
    expect(
      buildVehicleDashboardUrl('https://grafana.example', '/d/reefer?var-vehicle_id={vehicle_id}', 'TRK 1'),
    ).toBe('https://grafana.example/d/reefer?var-vehicle_id=TRK%201');
  });
});
