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
