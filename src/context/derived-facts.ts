import type { CargoClass } from './catalog.js';
import type { ContextAlert } from './types.js';

/** Facts computed from an alert, its cargo class and the clock. Pure: `now` is always passed in. */

export type DeviationDirection = 'above' | 'below' | 'within';

export interface TemperatureDeviation {
  direction: DeviationDirection;
  /** Signed distance to the nearest bound: positive above max, negative below min, 0 within. */
  deltaC: number;
}

export interface ExcursionBudget {
  allowanceMinutes: number;
  /** Time firing so far (minutes, fractional). */
  elapsedMinutes: number;
  /** Exact share of the allowance used; may exceed 100. Round down for display so it agrees with `>=` thresholds. */
  usedPct: number;
  exhaustsAt: Date;
  exhausted: boolean;
}

const MS_PER_MINUTE = 60_000;

export function parseTime(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** When a resolved alert ended; undefined while firing (Alertmanager sends year 1 then). */
export function parseEnd(text: string | undefined): Date | undefined {
  const time = parseTime(text);
  return time === undefined || time.getUTCFullYear() < 1970 ? undefined : time;
}

/**
 * The worst of several readings: the one furthest outside the range when there is one (a too-cold reading
 * counts for frozen cargo), else the highest. Readings the relay kept are the only ones it knows, so this is
 * the peak among the alerts of the episode (a rule's `temperature_c` label makes each reading its own alert).
 */
export function peakReading(
  readings: readonly number[],
  range?: Pick<CargoClass, 'minC' | 'maxC'>,
): number | undefined {
  let peak: number | undefined;
  const badness = (value: number) => (range ? Math.abs(temperatureDeviation(value, range).deltaC) : value);
  for (const value of readings) if (peak === undefined || badness(value) > badness(peak)) peak = value;
  return peak;
}

function parseNumber(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text.trim());
  return Number.isFinite(value) ? value : undefined;
}

/**
 * The measured temperature in °C: the rule's `value` annotation (set from `$value`) when the
 * rule measures temperature, else a `temperature_c` label, which real payloads carry.
 */
export function readMeasuredTemperature(
  alert: ContextAlert,
  valueIsTemperature: boolean,
): number | undefined {
  const fromValue = valueIsTemperature ? parseNumber(alert.annotations.value) : undefined;
  return fromValue ?? parseNumber(alert.labels.temperature_c);
}

export function temperatureDeviation(
  measuredC: number,
  range: Pick<CargoClass, 'minC' | 'maxC'>,
): TemperatureDeviation {
  if (range.maxC !== undefined && measuredC > range.maxC)
    return { direction: 'above', deltaC: measuredC - range.maxC };
  if (range.minC !== undefined && measuredC < range.minC)
    return { direction: 'below', deltaC: measuredC - range.minC };
  return { direction: 'within', deltaC: 0 };
}

/**
 * How much of the cargo's excursion allowance the alert has used, counting from `startsAt`.
 * That under-counts by the rule's `for:` delay, which keeps the figure a lower bound rather
 * than a guess.
 */
export function excursionBudget(startsAt: Date, now: Date, allowanceMinutes: number): ExcursionBudget {
  const elapsedMs = Math.max(0, now.getTime() - startsAt.getTime());
  const allowanceMs = allowanceMinutes * MS_PER_MINUTE;
  const exhaustsAt = new Date(startsAt.getTime() + allowanceMs);
  return {
    allowanceMinutes,
    elapsedMinutes: elapsedMs / MS_PER_MINUTE,
    usedPct: (elapsedMs / allowanceMs) * 100,
    exhaustsAt,
    exhausted: elapsedMs >= allowanceMs,
  };
}

/** When budget use reaches `pct` percent. */
export function budgetThresholdAt(startsAt: Date, allowanceMinutes: number, pct: number): Date {
  return new Date(startsAt.getTime() + (allowanceMinutes * MS_PER_MINUTE * pct) / 100);
}

/** Whether `pct` is reached, compared in milliseconds so 15 min of 30 is exactly 50 %. */
export function budgetReached(startsAt: Date, now: Date, allowanceMinutes: number, pct: number): boolean {
  return now.getTime() >= budgetThresholdAt(startsAt, allowanceMinutes, pct).getTime();
}

export function isEtaAfterBudget(eta: Date, budget: Pick<ExcursionBudget, 'exhaustsAt'>): boolean {
  return eta.getTime() > budget.exhaustsAt.getTime();
}
