/**
 * What the incident page shows, read from the stores the relay already keeps: the snapshot, the flags, each
 * delivery's log, the timeline derived from them and each delivery's next reminder (domain/plan.ts's rule).
 */
import { buildTimeline, type TimelineEntry } from '../ack/timeline.js';
import { effectiveDelivery } from '../domain/destinations.js';
import { nextReminderAt } from '../domain/plan.js';
import { loadIncidentRecord } from '../incidents/list-incidents.js';
import { buildListItem, type IncidentRecord } from '../incidents/list-item.js';
import type { IncidentListItem } from '../incidents/types.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';

export interface IncidentDetail extends Omit<IncidentRecord, 'deliveries'> {
  deliveries: (IncidentRecord['deliveries'][number] & { nextReminderAt: number | undefined })[];
  timeline: TimelineEntry[];
  /** The incident as the list shows it: firing since, the cold-chain summary (cargo range, budget used). */
  item: IncidentListItem;
}

export const INCIDENT_ID = /^[0-9a-f]{16}$/;

/** undefined for an unknown incident (or one expired after resolve). */
export async function loadIncidentDetail(
  incidentId: string,
  stores: { alerts: AlertStore; deliveries: DeliveryStore },
  now: number,
): Promise<IncidentDetail | undefined> {
  if (!INCIDENT_ID.test(incidentId)) return undefined;
  const groupId = await stores.alerts.findGroupOfIncident(incidentId);
  const record = groupId ? await loadIncidentRecord({ groupId, incidentId }, stores) : undefined;
  if (!record) return undefined;
  const { snapshot, flags } = record;
  return {
    ...record,
    deliveries: record.deliveries.map((d) => ({
      ...d,
      nextReminderAt: nextReminderAt({
        snapshot,
        flags,
        log: d.log,
        delivery: effectiveDelivery(d.target, flags),
        now,
      }),
    })),
    timeline: buildTimeline(
      snapshot,
      flags,
      record.deliveries.map((d) => d.target),
      record.deliveries.map((d) => d.log),
      { now },
    ),
    item: buildListItem(record, now),
  };
}

/**
 * A link to a Slack message built from its channel id and ts: Slack's archives URL
 * (`https://slack.com/archives/C…/p<ts without the dot>`), which Slack redirects to the signed-in
 * workspace. Built, not asked for (chat.getPermalink would cost a Slack call per delivery per page view).
 * undefined for anything that is not an id and a ts, so a stored value never becomes a link elsewhere.
 */
export function slackPermalink(channel: string | undefined, ts: string | undefined): string | undefined {
  if (!channel || !ts || !/^[A-Z0-9]{2,}$/.test(channel) || !/^\d+\.\d+$/.test(ts)) return undefined;
  return `https://slack.com/archives/${channel}/p${ts.replace('.', '')}`;
}
