import { describe, expect, it } from 'vitest';
import {
  type EscalationSubject,
  evaluateEscalation,
  loadContextCatalog,
  severityRank,
} from '../../src/context/index.js';
import { NOW } from './helpers.js';

const catalog = loadContextCatalog();
const rules = catalog.escalation;

function cargo(id: string) {
  const found = catalog.cargoClasses.get(id);
  if (found === undefined) throw new Error(`no cargo class ${id}`);
  return found;
}

/** An excursion that started `minutesAgo` before NOW (fractions allowed). */
function excursion(
  cargoClassId: string,
  minutesAgo: number,
  extra: Partial<EscalationSubject> = {},
): EscalationSubject {
  return {
    alertname: 'ReeferTemperatureExcursion',
    title: 'reefer temperature excursion',
    status: 'firing',
    startsAt: new Date(NOW.getTime() - minutesAgo * 60_000),
    countsAgainstBudget: true,
    cargoClass: cargo(cargoClassId),
    vehicleId: 'TRK-0042',
    shipmentId: 'SHP-0042',
    ...extra,
  };
}

describe('pharma excursion at half budget', () => {
  it('does nothing at 49% and schedules a re-check for when 50% is reached', () => {
    const subject = excursion('chilled-pharma', 14.7);
    const outcome = evaluateEscalation([subject], 'warning', rules, NOW);
    expect(outcome).toEqual({
      matches: [],
      addEmail: [],
      nextRecheckAt: new Date(subject.startsAt.getTime() + 15 * 60_000),
    });
  });

  it('escalates a warning to critical at exactly 50%, adds QA and says why', () => {
    const subject = excursion('chilled-pharma', 15);
    const outcome = evaluateEscalation([subject], 'warning', rules, NOW);
    expect(outcome.severity).toBe('critical');
    expect(outcome.rule).toBe('pharma-excursion-half-budget');
    expect(outcome.reason).toBe(
      'chilled pharma excursion on TRK-0042 has used 50% of its 30 min budget (rule pharma-excursion-half-budget)',
    );
    expect(outcome.addEmail).toEqual(['qa@coldchain.example', 'qa-pharma@coldchain.example']);
    // Next threshold: the budget running out (excursion-budget-exhausted at 100%).
    expect(outcome.nextRecheckAt).toEqual(new Date(subject.startsAt.getTime() + 30 * 60_000));
  });

  it('uses the deep-frozen allowance of 15 minutes', () => {
    expect(
      evaluateEscalation([excursion('deep-frozen-pharma', 7.49)], 'warning', rules, NOW).severity,
    ).toBeUndefined();
    const outcome = evaluateEscalation([excursion('deep-frozen-pharma', 7.5)], 'warning', rules, NOW);
    expect(outcome.severity).toBe('critical');
    expect(outcome.addEmail).toEqual([
      'qa@coldchain.example',
      'qa-pharma@coldchain.example',
      'qualified-person@coldchain.example',
    ]);
  });

  it('leaves frozen food at 50% alone and re-checks when its budget runs out', () => {
    const subject = excursion('frozen', 30);
    const outcome = evaluateEscalation([subject], 'warning', rules, NOW);
    expect(outcome.severity).toBeUndefined();
    expect(outcome.matches).toEqual([]);
    expect(outcome.nextRecheckAt).toEqual(new Date(subject.startsAt.getTime() + 60 * 60_000));
  });

  it('escalates any cargo once its budget is used up', () => {
    const outcome = evaluateEscalation([excursion('frozen', 60)], 'warning', rules, NOW);
    expect(outcome.severity).toBe('critical');
    expect(outcome.rule).toBe('excursion-budget-exhausted');
    expect(outcome.addEmail).toEqual(['food-safety@coldchain.example']);
    expect(outcome.nextRecheckAt).toBeUndefined();
  });

  it('still adds QA to an alert that is already critical, without claiming an escalation', () => {
    const outcome = evaluateEscalation([excursion('chilled-pharma', 20)], 'critical', rules, NOW);
    expect(outcome.severity).toBeUndefined();
    expect(outcome.rule).toBe('pharma-excursion-half-budget');
    expect(outcome.addEmail).toEqual(['qa@coldchain.example', 'qa-pharma@coldchain.example']);
  });

  it('ignores resolved alerts and alerts with no known cargo', () => {
    expect(
      evaluateEscalation([excursion('chilled-pharma', 20, { status: 'resolved' })], 'warning', rules, NOW),
    ).toEqual({
      matches: [],
      addEmail: [],
      nextRecheckAt: undefined,
    });
    expect(
      evaluateEscalation([excursion('chilled-pharma', 20, { cargoClass: undefined })], 'warning', rules, NOW)
        .matches,
    ).toEqual([]);
  });

  it('re-checks at the earliest threshold across the group', () => {
    const early = excursion('chilled-pharma', 10, { vehicleId: 'TRK-0077' });
    const late = excursion('chilled-pharma', 2);
    const outcome = evaluateEscalation([late, early], 'warning', rules, NOW);
    expect(outcome.nextRecheckAt).toEqual(new Date(early.startsAt.getTime() + 15 * 60_000));
  });

  it('reports every match and lets the first highest decide', () => {
    const outcome = evaluateEscalation(
      [
        excursion('chilled-pharma', 16, { vehicleId: 'TRK-0077', shipmentId: 'SHP-0077' }),
        excursion('chilled-pharma', 31),
      ],
      'warning',
      rules,
      NOW,
    );
    expect(outcome.matches.map((match) => [match.rule, match.vehicleId])).toEqual([
      ['pharma-excursion-half-budget', 'TRK-0077'],
      ['pharma-excursion-half-budget', 'TRK-0042'],
      ['excursion-budget-exhausted', 'TRK-0042'],
    ]);
    expect(outcome.reason).toContain('on TRK-0077 has used 53%');
    expect(outcome.addEmail).toEqual(['qa@coldchain.example', 'qa-pharma@coldchain.example']);
  });
});

describe('pharma telemetry missing', () => {
  const missing = (cargoClassId: string): EscalationSubject => ({
    alertname: 'ReeferTelemetryMissing',
    title: 'reefer telemetry missing',
    status: 'firing',
    startsAt: NOW,
    countsAgainstBudget: false,
    cargoClass: cargo(cargoClassId),
    vehicleId: 'TRK-0077',
  });

  it('is critical at once for pharma cargo', () => {
    const outcome = evaluateEscalation([missing('chilled-pharma')], 'warning', rules, NOW);
    expect(outcome).toMatchObject({
      severity: 'critical',
      rule: 'pharma-telemetry-missing',
      reason: 'chilled pharma cargo on TRK-0077: reefer telemetry missing (rule pharma-telemetry-missing)',
      addEmail: ['qa-pharma@coldchain.example'],
      nextRecheckAt: undefined,
    });
  });

  it('does not apply to fresh produce', () => {
    expect(evaluateEscalation([missing('fresh-produce')], 'warning', rules, NOW).matches).toEqual([]);
  });
});

describe('severityRank', () => {
  it('ranks unknown severities like warning, as the default routes do', () => {
    expect(severityRank('critical')).toBeGreaterThan(severityRank('warning'));
    expect(severityRank('warning')).toBeGreaterThan(severityRank('info'));
    expect(severityRank('page')).toBe(severityRank('warning'));
    expect(severityRank('constructor')).toBe(severityRank('warning'));
  });
});
