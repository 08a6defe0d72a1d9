/**
 * An incident's destinations: the ones its route chose when it opened (stored in the snapshot) plus the
 * ones escalation added later (stored in the incident's flags; destinations only grow). Everything that
 * needs "all deliveries of this incident, escalation included" asks here.
 */
import type { IncidentFlags } from './delivery-log.js';
import type { DeliveryTarget, IncidentSnapshot } from './model.js';

export function incidentDestinations(
  snapshot: Pick<IncidentSnapshot, 'deliveries'>,
  flags: Pick<IncidentFlags, 'extraDeliveries'> | undefined,
): DeliveryTarget[] {
  return [...snapshot.deliveries, ...(flags?.extraDeliveries ?? [])];
}

/**
 * An escalated incident reminds at the shortest repeat of the destinations its escalation added (the
 * reconcile planner and the incident list's "next reminder at" read the same delivery).
 */
export function effectiveDelivery(delivery: DeliveryTarget, flags: IncidentFlags): DeliveryTarget {
  const escalatedRepeat = (flags.extraDeliveries ?? []).map((t) => t.repeatSeconds).filter((r) => r > 0);
  if (!flags.escalation || escalatedRepeat.length === 0) return delivery;
  const repeat = Math.min(...escalatedRepeat);
  return delivery.repeatSeconds === 0 || repeat < delivery.repeatSeconds
    ? { ...delivery, repeatSeconds: repeat }
    : delivery;
}
