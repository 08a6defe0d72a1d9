/**
 * The message view: everything a notification says, built once from the incident snapshot, its cold-chain
 * context and its flags, then rendered by the Slack and email renderers. Pure; plain text throughout.
 */
import { encodeComponent, toWellFormed } from '../context/safe-text.js';
import type { IncidentFlags } from '../domain/delivery-log.js';
import type { IncidentNotice } from '../domain/ladder.js';
import type { IncidentSnapshot, Labels } from '../domain/model.js';
import { acknowledgementCovers } from '../domain/plan.js';
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
  /** The ladder ahead: "unacknowledged 12m, escalates to #dispatch-duty in 3m" (firing, unacknowledged). */
  escalation?: string | undefined;
  /** The escalations and lapses so far, each with its time: the story a destination added later first hears. */
  notices?: string[] | undefined;
  /** The incident's console page (PUBLIC_URL/incidents/{id}): the footer's link, and where a shortened message points. */
  incidentUrl?: string | undefined;
}

export const MAX_ALERT_LINES = 20;

function wellFormedLabels(labels: Labels): Labels {
  const out: Labels = {};
  for (const [name, value] of Object.entries(labels)) out[toWellFormed(name)] = toWellFormed(value);
  return out;
}

/** The snapshot with every string alerts supplied made well-formed (see context/safe-text.ts). */
function wellFormedSnapshot(snapshot: IncidentSnapshot): IncidentSnapshot {
  return {
    ...snapshot,
    receiver: toWellFormed(snapshot.receiver),
    groupKey: toWellFormed(snapshot.groupKey),
    severity: toWellFormed(snapshot.severity),
    externalURL: toWellFormed(snapshot.externalURL),
    groupLabels: wellFormedLabels(snapshot.groupLabels),
    commonLabels: wellFormedLabels(snapshot.commonLabels),
    commonAnnotations: wellFormedLabels(snapshot.commonAnnotations),
    alerts: snapshot.alerts.map((a) => ({
      ...a,
      fingerprint: toWellFormed(a.fingerprint),
      labels: wellFormedLabels(a.labels),
      annotations: wellFormedLabels(a.annotations),
      generatorURL: toWellFormed(a.generatorURL),
    })),
  };
}

function wellFormedContext(context: ContextView | undefined): ContextView | undefined {
  if (!context) return undefined;
  const text = (value: string | undefined) => (value === undefined ? undefined : toWellFormed(value));
  return {
    heading: toWellFormed(context.heading),
    lines: context.lines.map(toWellFormed),
    runbook: text(context.runbook),
    dashboard: text(context.dashboard),
    silenceUrl: text(context.silenceUrl),
    unavailable: text(context.unavailable),
  };
}

/**
 * A part of the message that still fails on odd data is left out rather than failing the whole message:
 * a notification without one line beats a delivery retried into a dead letter.
 */
function partOrElse<T>(build: () => T, fallback: T): T {
  try {
    return build();
  } catch {
    return fallback;
  }
}

export function buildView(
  stored: IncidentSnapshot,
  options: {
    now: number;
    flags?: IncidentFlags;
    context?: ContextView | undefined;
    severity?: string | undefined;
    incidentUrl?: string | undefined;
    /** From domain/ladder.ts: the state line and the notices so far. */
    ladder?: { state?: string | undefined; notices: readonly IncidentNotice[] } | undefined;
  },
): MessageView {
  const { now, flags = {} } = options;
  // Label data may hold anything JSON can carry; rendering must never throw on it (one bad character would
  // otherwise retry a delivery into a dead letter).
  const snapshot = wellFormedSnapshot(stored);
  const context = wellFormedContext(options.context);
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
  const add = (label: string, url: () => string | undefined) => {
    const safe = partOrElse(() => safeUrl(url()), undefined);
    if (safe && !links.some((l) => l.url === safe)) links.push({ label, url: safe });
  };
  add('Runbook', () => runbookOf(snapshot, context?.runbook));
  add('Dashboard', () => context?.dashboard);
  add('Alertmanager', () => alertmanagerUrl(snapshot));
  add('Source', () => snapshot.alerts[0]?.generatorURL);
  if (snapshot.status === 'firing') add('Silence in Alertmanager', () => context?.silenceUrl);
  for (const silence of (flags.silences ?? []).filter((x) => x.until > now)) {
    add(
      'Active silence',
      () => `${silence.alertmanager.replace(/\/+$/, '')}/#/silences/${encodeComponent(silence.id)}`,
    );
  }
  const incidentUrl = partOrElse(() => safeUrl(options.incidentUrl), undefined);
  return {
    incidentId: snapshot.incidentId,
    title: titleOf(snapshot),
    severity: options.severity === undefined ? snapshot.severity : toWellFormed(options.severity),
    status: snapshot.status,
    summary: summaryOf(snapshot),
    description: descriptionOf(snapshot),
    counts: countByStatus(snapshot),
    alerts: shown.map((a) => ({
      status: a.status,
      labels: partOrElse(() => distinguishingLabels(a, snapshot), []),
      since: partOrElse(
        () =>
          a.status === 'firing'
            ? sinceText(a, now)
            : `resolved${a.endsAt.startsWith('0001') ? '' : ` at ${formatTime(Date.parse(a.endsAt))}`}`,
        a.status,
      ),
      summary: snapshot.alerts.length > 1 ? a.annotations.summary : undefined,
      value: a.annotations.value,
    })),
    overflow: ordered.length - shown.length + (snapshot.omittedAlerts ?? 0),
    truncatedAlerts: snapshot.truncatedAlerts,
    context,
    links,
    startedAt: formatTime(began),
    duration: formatElapsed(end - began),
    incidentUrl,
    acknowledged: partOrElse(() => describeAcknowledgement(flags, snapshot, began), undefined),
    silenced: partOrElse(() => describeSilences(flags, now), undefined),
    escalation: snapshot.status === 'firing' ? options.ladder?.state : undefined,
    notices: options.ladder?.notices.length
      ? options.ladder.notices.map((n) => toWellFormed(`${formatTime(n.at)} ${n.text}`))
      : undefined,
  };
}

function describeAcknowledgement(
  flags: IncidentFlags,
  snapshot: IncidentSnapshot,
  began: number,
): string | undefined {
  if (!flags.acknowledged) return undefined;
  const { by, at } = flags.acknowledged;
  return toWellFormed(
    `Acknowledged by ${by} at ${formatTime(at)}, ${formatElapsed(at - began)} after it fired${
      acknowledgementCovers(flags, snapshot) ? '' : '; new alerts since, so reminders resumed'
    }`,
  );
}

function describeSilences(flags: IncidentFlags, now: number): string | undefined {
  const active = (flags.silences ?? []).filter((x) => x.until > now);
  if (!active.length || !flags.silencedUntil || flags.silencedUntil <= now) return undefined;
  const first = active[0]!;
  return toWellFormed(
    `Silenced by ${first.by} until ${formatTime(flags.silencedUntil)} (${first.matched} alert${first.matched === 1 ? '' : 's'} matched, silence ${first.id.slice(0, 8)}); reminders paused`,
  );
}

export const SEVERITY_MARK: Record<string, string> = { critical: '🔴', warning: '🟠', info: '🔵' };

export function headlineOf(view: Pick<MessageView, 'severity' | 'status'>): string {
  if (view.status === 'resolved') return `✅ RESOLVED (was ${view.severity.toUpperCase()})`;
  return `${SEVERITY_MARK[view.severity] ?? '⚪'} ${view.severity.toUpperCase()}`;
}
