/**
 * The cold-chain summary of an incident list item. The list must answer quickly for 200 incidents, so it
 * never asks the dispatch API: it reads the facts the last delivery run stored (the worker had the context
 * in hand to render the message: same vehicles, shipments and cargo classes the message showed), and
 * falls back to the alert labels for an incident no worker has described yet. The cached dispatch answers
 * were the other candidate, but they expire after `context.cache_ttl` (5 min), long before most incidents.
 */
import { shipmentIdOf, uniqueDefined, vehicleIdOf } from '../context/alert-labels.js';
import { formatRange } from '../context/format-context-lines.js';
import type { IncidentContext } from '../context/incident-context.js';
import type { ColdChainFacts } from '../domain/cold-chain.js';
import type { IncidentSnapshot } from '../domain/model.js';
import type { IncidentListItem } from './types.js';

const MS_PER_MINUTE = 60_000;

/** What to keep of a described incident (see ColdChainFacts). */
export function coldChainFactsOf(ctx: IncidentContext): ColdChainFacts {
  const shipments = ctx.vehicles.flatMap((v) => v.shipments);
  return {
    vehicles: uniqueDefined(ctx.vehicles.map((v) => v.vehicleId)),
    shipments: uniqueDefined(shipments.map((s) => s.id)),
    cargoRanges: uniqueDefined(
      shipments.map((s) => s.cargoClass && `${formatRange(s.cargoClass)} (${s.cargoClass.label})`),
    ),
    budgets: shipments.flatMap((s) =>
      s.budget
        ? [
            {
              startedAt: s.budget.exhaustsAt.getTime() - s.budget.allowanceMinutes * MS_PER_MINUTE,
              allowanceMinutes: s.budget.allowanceMinutes,
            },
          ]
        : [],
    ),
  };
}

/**
 * The summary at `at` (now, or when the incident resolved): stored facts joined with what the labels name,
 * since an alert that joined after the last run is already in the snapshot. The worst budget counts.
 */
export function summarizeColdChain(
  snapshot: Pick<IncidentSnapshot, 'alerts'>,
  stored: ColdChainFacts | undefined,
  at: number,
): IncidentListItem['coldChain'] {
  const vehicles = uniqueDefined([...(stored?.vehicles ?? []), ...snapshot.alerts.map(vehicleIdOf)]);
  const shipments = uniqueDefined([...(stored?.shipments ?? []), ...snapshot.alerts.map(shipmentIdOf)]);
  const used = (stored?.budgets ?? []).map(
    (b) => (Math.max(0, at - b.startedAt) / (b.allowanceMinutes * MS_PER_MINUTE)) * 100,
  );
  const cargoRange = stored?.cargoRanges.length ? stored.cargoRanges.join(', ') : undefined;
  return {
    vehicles,
    shipments,
    ...(cargoRange ? { cargoRange } : {}),
    ...(used.length ? { budgetUsedPct: Math.floor(Math.max(...used)) } : {}),
  };
}
