/** The relay's own words (DESIGN.md §Words): group, incident, delivery. */
import { hash } from 'node:crypto';

export type AlertStatus = 'firing' | 'resolved';
export type Labels = Record<string, string>;

export interface AlertState {
  fingerprint: string;
  startsAt: string;
  status: AlertStatus;
  labels: Labels;
  annotations: Labels;
  endsAt: string;
  generatorURL: string;
}

export type ChannelKind = 'slack' | 'email';

/** One destination of an incident: a Slack channel or an email list. */
export interface DeliveryTarget {
  id: string;
  kind: ChannelKind;
  /** Slack channel name or id; comma-separated email addresses. */
  target: string;
  route: string;
  /** Seconds between reminders; 0 = never. */
  repeatSeconds: number;
  broadcastReminders: boolean;
}

/** The incident snapshot: what the group looks like now, merged from every webhook of this episode. */
export interface IncidentSnapshot {
  incidentId: string;
  groupId: string;
  receiver: string;
  groupKey: string;
  /** When the relay first heard of this episode (ms since epoch). */
  startedAt: number;
  status: AlertStatus;
  truncatedAlerts: number;
  alerts: AlertState[];
  /** Alerts of this episode dropped from `alerts` to bound the snapshot (src/dedupe/merge.ts); shown as "and N more". */
  omittedAlerts?: number;
  groupLabels: Labels;
  commonLabels: Labels;
  commonAnnotations: Labels;
  /** The first sender's URL in this episode; differs between replicas, so never part of deduplication. */
  externalURL: string;
  /** Refreshed by every valid webhook, duplicates included: Alertmanager's repeat is the heartbeat. */
  lastSeenAt: number;
  resolvedAt?: number;
  severity: string;
  deliveries: DeliveryTarget[];
}

/** An alert's identity within its group: the same fingerprint firing again later is a new alert. */
export const alertKey = (a: Pick<AlertState, 'fingerprint' | 'startsAt'>) => `${a.fingerprint}@${a.startsAt}`;

/** Unknown severities rank as warning where a rank is needed (see severityRank). */
export const SEVERITY_RANK: Record<string, number> = { critical: 3, warning: 2, info: 1 };

/** One-shot `hash` (Node ≥ 20.12): no Hash object per call, which runs for every webhook. */
function shortHash(...parts: string[]): string {
  return hash('sha256', parts.join('\u0000'), 'hex').slice(0, 16);
}

export function groupIdOf(receiver: string, groupKey: string): string {
  return shortHash(receiver, groupKey);
}

export function incidentIdOf(receiver: string, groupKey: string, startedAt: number): string {
  return shortHash(receiver, groupKey, String(startedAt));
}

export function deliveryIdOf(kind: ChannelKind, target: string): string {
  return shortHash(kind, target);
}

/** BullMQ job and deduplication ids may not contain ':' nor be all digits: hex with a letter prefix. */
export function deliveryKey(incidentId: string, deliveryId: string): string {
  return `d-${incidentId}-${deliveryId}`;
}

/** Unknown severities rank as warning, which is also how the default routes treat them. */
export function severityRank(severity: string | undefined): number {
  return severity !== undefined && Object.hasOwn(SEVERITY_RANK, severity)
    ? (SEVERITY_RANK[severity] as number)
    : (SEVERITY_RANK.warning as number);
}
