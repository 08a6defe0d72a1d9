import { severityRank } from '../domain/model.js';
import type { CargoClass, EscalationRule } from './catalog.js';
import { budgetReached, budgetThresholdAt, excursionBudget } from './derived-facts.js';
import type { AlertStatus, Severity } from './types.js';

/** One alert × one shipment (or the alert alone when it concerns no cargo), as the rules see it. */
export interface EscalationSubject {
  alertname: string;
  /** Short noun phrase for the reason ("reefer telemetry missing"). */
  title: string;
  status: AlertStatus;
  startsAt: Date;
  countsAgainstBudget: boolean;
  cargoClass?: CargoClass | undefined;
  vehicleId?: string | undefined;
  shipmentId?: string | undefined;
}

export interface EscalationMatch {
  rule: string;
  severity?: Severity | undefined;
  reason: string;
  emails: string[];
  vehicleId?: string | undefined;
  shipmentId?: string | undefined;
  /** When the rule's condition became true: the budget threshold's crossing, else the alert's start. */
  since: Date;
}

export interface EscalationOutcome {
  /** Set only when a rule raises the severity above the incoming one. */
  severity?: Severity | undefined;
  /** The deciding rule and its reason (also when it only adds destinations). */
  rule?: string | undefined;
  reason?: string | undefined;
  /** When the deciding rule's condition became true (the timeline dates the escalation there). */
  since?: Date | undefined;
  matches: EscalationMatch[];
  /** Extra email destinations, deduplicated, in rule order. */
  addEmail: string[];
  /** When a budget threshold of some rule will next be crossed while the alerts keep firing. */
  nextRecheckAt?: Date | undefined;
}

export { severityRank };

export const NO_ESCALATION: EscalationOutcome = { matches: [], addEmail: [] };

/**
 * Applies the catalog's escalation rules. Pure: budget use depends on `now`, and because it
 * grows while an alert fires, `nextRecheckAt` tells the caller when to evaluate again.
 */
export function evaluateEscalation(
  subjects: readonly EscalationSubject[],
  currentSeverity: string,
  rules: readonly EscalationRule[],
  now: Date,
): EscalationOutcome {
  const matches: EscalationMatch[] = [];
  let nextRecheckAt: Date | undefined;

  for (const subject of subjects) {
    if (subject.status !== 'firing') continue;
    for (const rule of rules) {
      if (!matchesStaticConditions(rule, subject)) continue;
      const threshold = rule.when.budgetUsedPctGte;
      let since = subject.startsAt;
      if (threshold !== undefined) {
        const cargo = subject.cargoClass;
        if (cargo === undefined || !subject.countsAgainstBudget) continue;
        if (!budgetReached(subject.startsAt, now, cargo.excursionAllowanceMinutes, threshold)) {
          const crossesAt = budgetThresholdAt(subject.startsAt, cargo.excursionAllowanceMinutes, threshold);
          if (nextRecheckAt === undefined || crossesAt < nextRecheckAt) nextRecheckAt = crossesAt;
          continue;
        }
        since = budgetThresholdAt(subject.startsAt, cargo.excursionAllowanceMinutes, threshold);
      }
      matches.push({
        rule: rule.name,
        severity: rule.action.severity,
        reason: describeMatch(rule, subject, now),
        emails: [
          ...rule.action.addEmail,
          ...(rule.action.notifyCargoContacts ? (subject.cargoClass?.escalationContacts ?? []) : []),
        ],
        vehicleId: subject.vehicleId,
        shipmentId: subject.shipmentId,
        since,
      });
    }
  }

  if (matches.length === 0) return { matches, addEmail: [], nextRecheckAt };

  // Highest severity decides; among equals, the first in rule and alert order.
  const deciding = matches.reduce((best, match) => (rankOf(match) > rankOf(best) ? match : best));
  const raises =
    deciding.severity !== undefined && severityRank(deciding.severity) > severityRank(currentSeverity);
  return {
    severity: raises ? deciding.severity : undefined,
    rule: deciding.rule,
    reason: deciding.reason,
    since: deciding.since,
    matches,
    addEmail: [...new Set(matches.flatMap((match) => match.emails))],
    nextRecheckAt,
  };
}

function rankOf(match: EscalationMatch): number {
  return match.severity === undefined ? 0 : severityRank(match.severity);
}

function matchesStaticConditions(rule: EscalationRule, subject: EscalationSubject): boolean {
  const { alertnameIn, cargoClassIn } = rule.when;
  if (alertnameIn !== undefined && !alertnameIn.includes(subject.alertname)) return false;
  if (
    cargoClassIn !== undefined &&
    (subject.cargoClass === undefined || !cargoClassIn.includes(subject.cargoClass.id))
  )
    return false;
  return true;
}

function describeMatch(rule: EscalationRule, subject: EscalationSubject, now: Date): string {
  const where =
    subject.vehicleId !== undefined
      ? ` on ${subject.vehicleId}`
      : subject.shipmentId !== undefined
        ? ` of ${subject.shipmentId}`
        : '';
  const cargo = subject.cargoClass;
  if (rule.when.budgetUsedPctGte !== undefined && cargo !== undefined) {
    const used = Math.floor(excursionBudget(subject.startsAt, now, cargo.excursionAllowanceMinutes).usedPct);
    return `${cargo.label} excursion${where} has used ${used}% of its ${cargo.excursionAllowanceMinutes} min budget (rule ${rule.name})`;
  }
  if (cargo !== undefined) return `${cargo.label} cargo${where}: ${subject.title} (rule ${rule.name})`;
  return `${subject.title}${where} (rule ${rule.name})`;
}
