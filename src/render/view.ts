/**
 * The message view: everything a notification says, built once from the incident snapshot, its cold-chain
 * context and its flags, then rendered by the Slack and email renderers. Pure; plain text throughout.
 */
import { acknowledgementCovers } from '../deliver/plan.js';
import type { IncidentSnapshot } from '../model.js';
import type { IncidentFlags } from '../store/delivery-store.js';
import {
  alertmanagerUrl,
  countByStatus,
  descriptionOf,
  distinguishingLabels,
  formatElapsed,
  formatTime,
  runbookOf,
  safeUrl,
  sinceText,
  summaryOf,
  titleOf,
} from './describe.js';

/** What the context stage adds to a message (see src/context). */
export interface ContextView {
  heading: string;
  lines: string[];
  runbook?: string | undefined;
  dashboard?: string | undefined;
  silenceUrl?: string | undefined;
  /** Set when the context source failed: the message still goes out, and says so. */
  unavailable?: string | undefined;
}

export interface AlertLine {
  status: 'firing' | 'resolved';
  labels: [string, string][];
  since: string;
  summary?: string | undefined;
  value?: string | undefined;
}

export interface MessageView {
  incidentId: string;
  title: string;
  severity: string;
  status: 'firing' | 'resolved';
  summary?: string | undefined;
  description?: string | undefined;
  counts: { firing: number; resolved: number };
  alerts: AlertLine[];
  /** Alerts left out of `alerts` to respect message size limits. */
  overflow: number;
  /** Alerts Alertmanager itself left out of the payload (max_alerts). */
  truncatedAlerts: number;
  context?: ContextView | undefined;
  links: { label: string; url: string }[];
  startedAt: string;
  duration: string;
  acknowledged?: string | undefined;
  silenced?: string | undefined;
}

export const MAX_ALERT_LINES = 20;

export function buildView(
  snapshot: IncidentSnapshot,
  options: { now: number; flags?: IncidentFlags; context?: ContextView; severity?: string },
): MessageView {
  const { now, flags = {}, context } = options;
  // Firing alerts first: they are what someone must act on.
  const ordered = [...snapshot.alerts].sort((a, b) =>
    a.status === b.status ? 0 : a.status === 'firing' ? -1 : 1,
  );
  const shown = ordered.slice(0, MAX_ALERT_LINES);
  const end = snapshot.status === 'resolved' ? (snapshot.resolvedAt ?? now) : now;
  // The incident began when its first alert did, which may be long before the relay heard of it.
  const starts = snapshot.alerts.map((a) => Date.parse(a.startsAt)).filter((t) => !Number.isNaN(t));
  const began = Math.min(snapshot.startedAt, ...starts);
  const links: { label: string; url: string }[] = [];
  const add = (label: string, url: string | undefined) => {
    const safe = safeUrl(url);
    if (safe && !links.some((l) => l.url === safe)) links.push({ label, url: safe });
  };
  add('Runbook', runbookOf(snapshot, context?.runbook));
  add('Dashboard', context?.dashboard);
  add('Alertmanager', alertmanagerUrl(snapshot));
  add('Source', snapshot.alerts[0]?.generatorURL);
  if (snapshot.status === 'firing') add('Silence in Alertmanager', context?.silenceUrl);
  for (const silence of (flags.silences ?? []).filter((x) => x.until > now)) {
    add(
      'Active silence',
      `${silence.alertmanager.replace(/\/+$/, '')}/#/silences/${encodeURIComponent(silence.id)}`,
    );
  }
  return {
    incidentId: snapshot.incidentId,
    title: titleOf(snapshot),
    severity: options.severity ?? snapshot.severity,
    status: snapshot.status,
    summary: summaryOf(snapshot),
    description: descriptionOf(snapshot),
    counts: countByStatus(snapshot),
    alerts: shown.map((a) => ({
      status: a.status,
      labels: distinguishingLabels(a, snapshot),
      since:
        a.status === 'firing'
          ? sinceText(a, now)
          : `resolved${a.endsAt.startsWith('0001') ? '' : ` at ${formatTime(Date.parse(a.endsAt))}`}`,
      summary: snapshot.alerts.length > 1 ? a.annotations.summary : undefined,
      value: a.annotations.value,
    })),
    overflow: ordered.length - shown.length,
    truncatedAlerts: snapshot.truncatedAlerts,
    context,
    links,
    startedAt: formatTime(began),
    duration: formatElapsed(end - began),
    acknowledged: flags.acknowledged
      ? `Acknowledged by ${flags.acknowledged.by} at ${formatTime(flags.acknowledged.at)}, ${formatElapsed(flags.acknowledged.at - began)} after it fired${
          acknowledgementCovers(flags, snapshot) ? '' : '; new alerts since, so reminders resumed'
        }`
      : undefined,
    silenced: describeSilences(flags, now),
  };
}

function describeSilences(flags: IncidentFlags, now: number): string | undefined {
  const active = (flags.silences ?? []).filter((x) => x.until > now);
  if (!active.length || !flags.silencedUntil || flags.silencedUntil <= now) return undefined;
  const first = active[0]!;
  return `Silenced by ${first.by} until ${formatTime(flags.silencedUntil)} (${first.matched} alert${first.matched === 1 ? '' : 's'} matched, silence ${first.id.slice(0, 8)}); reminders paused`;
}

export const SEVERITY_MARK: Record<string, string> = { critical: '🔴', warning: '🟠', info: '🔵' };

export function headlineOf(view: Pick<MessageView, 'severity' | 'status'>): string {
  if (view.status === 'resolved') return `✅ RESOLVED (was ${view.severity.toUpperCase()})`;
  return `${SEVERITY_MARK[view.severity] ?? '⚪'} ${view.severity.toUpperCase()}`;
}
