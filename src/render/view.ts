/**
 * The message view: everything a notification says, built once from the incident snapshot, its cold-chain
 * context and its flags, then rendered by the Slack and email renderers. Pure; plain text throughout.
 */
import type { AssetLines } from '../context/format-context-lines.js';
import { pickRunbook, telUrl } from '../context/links.js';
import { encodeComponent, toWellFormed } from '../context/safe-text.js';
import type { IncidentFlags } from '../domain/delivery-log.js';
import { createDisplayClock, type DisplayClock } from '../domain/display-time.js';
import type { IncidentNotice } from '../domain/ladder.js';
import type { IncidentSnapshot, Labels } from '../domain/model.js';
import { acknowledgementCovers } from '../domain/plan.js';
import {
  alertmanagerUrl,
  countByStatus,
  descriptionOf,
  distinguishingLabels,
  formatElapsed,
  safeUrl,
  summaryOf,
  titleOf,
} from './describe.js';

/** What the context stage adds to a message (see src/context). */
export interface ContextView {
  heading: string;
  /** The longer context: affects, impact, owner, escalation. */
  lines: string[];
  /** The catalog's first action: shown first, before any longer context. */
  firstAction?: string | undefined;
  /** Asset incidents: one compact block per vehicle, shipment or place. */
  assets?: AssetLines[] | undefined;
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

/** A phone number ready for a link: `tel` is digits only (links.ts telUrl), `phone` as people write it. */
export interface CallView {
  name: string;
  phone: string;
  tel: string;
}

/** An asset block as a renderer needs it: the context's lines, the driver's phone checked for a tel: link. */
export interface AssetView {
  title: string;
  status: 'firing' | 'resolved';
  driver?: { name: string; phone?: string | undefined; tel?: string | undefined } | undefined;
  facts: string[];
  dashboard?: string | undefined;
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
  /** The first action, with the drivers of the firing vehicles to call, shown right under the headline. */
  firstAction?: { text: string; calls: CallView[] } | undefined;
  assets: AssetView[];
  /**
   * Resolved: how long each step took, fired → notified → acknowledged → resolved ("Fired 02:53 UTC →
   * notified 1m later → acknowledged by @ana 4m later → resolved 7m later").
   */
  timeline?: string | undefined;
  /** The display_timezone the view's times are in, for replies rendered beside it. */
  timeZone: string;
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
    firstAction: text(context.firstAction),
    assets: context.assets?.map((a) => ({
      title: toWellFormed(a.title),
      status: a.status,
      driver: a.driver && { name: toWellFormed(a.driver.name), phone: text(a.driver.phone) },
      facts: a.facts.map(toWellFormed),
      dashboard: text(a.dashboard),
    })),
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
    /** The policy's display_timezone (UTC when not given). */
    timeZone?: string | undefined;
  },
): MessageView {
  const { now, flags = {} } = options;
  const clock = createDisplayClock(options.timeZone, now);
  // Label data may hold anything JSON can carry; rendering must never throw on it (one bad character would
  // otherwise retry a delivery into a dead letter).
  const snapshot = wellFormedSnapshot(stored);
  const context = wellFormedContext(options.context);
  // Firing alerts first: they are what someone must act on.
  const ordered = [...snapshot.alerts].sort((a, b) =>
    a.status === b.status ? 0 : a.status === 'firing' ? -1 : 1,
  );
  const shown = ordered.slice(0, MAX_ALERT_LINES);
  const end = snapshot.status === 'resolved' ? endOf(snapshot, now) : now;
  // The incident began when its first alert did, which may be long before the relay heard of it.
  const starts = snapshot.alerts.map((a) => Date.parse(a.startsAt)).filter((t) => !Number.isNaN(t));
  const began = Math.min(snapshot.startedAt, ...starts);
  const links: { label: string; url: string }[] = [];
  const add = (label: string, url: () => string | undefined) => {
    const safe = partOrElse(() => safeUrl(url()), undefined);
    if (safe && !links.some((l) => l.url === safe)) links.push({ label, url: safe });
  };
  // One runbook everywhere (links.ts pickRunbook); the context stage picked it with the catalog's in view.
  add('Runbook', () => context?.runbook ?? pickRunbook(snapshot.alerts, undefined));
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
            ? sinceText(a, now, clock)
            : `resolved${a.endsAt.startsWith('0001') ? '' : ` at ${clock.format(Date.parse(a.endsAt))}`}`,
        a.status,
      ),
      summary: snapshot.alerts.length > 1 ? a.annotations.summary : undefined,
      value: a.annotations.value,
    })),
    overflow: ordered.length - shown.length + (snapshot.omittedAlerts ?? 0),
    truncatedAlerts: snapshot.truncatedAlerts,
    context,
    links,
    startedAt: clock.format(began),
    duration: formatSpan(end - began),
    incidentUrl,
    acknowledged: partOrElse(() => describeAcknowledgement(flags, snapshot, began, clock), undefined),
    silenced: partOrElse(() => describeSilences(flags, now, clock), undefined),
    escalation: snapshot.status === 'firing' ? options.ladder?.state : undefined,
    notices: options.ladder?.notices.length
      ? options.ladder.notices.map((n) => toWellFormed(`${clock.format(n.at)} ${n.text}`))
      : undefined,
    firstAction: context?.firstAction ? { text: context.firstAction, calls: callsOf(context) } : undefined,
    // A vehicle's dashboard already in the links row (the only vehicle) is not repeated in its block.
    assets: (context?.assets ?? []).map((a) => {
      const asset = assetViewOf(a);
      return links.some((l) => l.url === asset.dashboard) ? { ...asset, dashboard: undefined } : asset;
    }),
    timeline:
      snapshot.status === 'resolved'
        ? partOrElse(() => describeTimeline(snapshot, flags, began, end, clock), undefined)
        : undefined,
    timeZone: clock.timeZone,
  };
}

function sinceText(alert: IncidentSnapshot['alerts'][number], now: number, clock: DisplayClock): string {
  const started = Date.parse(alert.startsAt);
  return Number.isNaN(started) ? '' : `since ${clock.format(started)} (${formatElapsed(now - started)})`;
}

/** When the incident ended: its alerts' last endsAt (Alertmanager's time), else when the relay heard of it. */
function endOf(snapshot: IncidentSnapshot, now: number): number {
  const ends = snapshot.alerts
    .map((a) => Date.parse(a.endsAt))
    .filter((t) => !Number.isNaN(t) && t > 0 && new Date(t).getUTCFullYear() >= 1970);
  return ends.length ? Math.max(...ends) : (snapshot.resolvedAt ?? now);
}

function assetViewOf(asset: AssetLines): AssetView {
  const phone = asset.driver?.phone;
  return {
    title: asset.title,
    status: asset.status,
    driver: asset.driver && { name: asset.driver.name, phone, tel: phone ? telUrl(phone) : undefined },
    facts: asset.facts,
    dashboard: partOrElse(() => safeUrl(asset.dashboard), undefined),
  };
}

/** The drivers of the vehicles still firing, each once: who the first action calls. */
function callsOf(context: ContextView): CallView[] {
  const calls: CallView[] = [];
  for (const asset of context.assets ?? []) {
    const phone = asset.driver?.phone;
    const tel = phone ? telUrl(phone) : undefined;
    if (asset.status !== 'firing' || !phone || !tel || calls.some((c) => c.tel === tel)) continue;
    calls.push({ name: asset.driver!.name, phone, tel });
  }
  return calls;
}

/**
 * How long each step took once resolved. "Notified" is when the relay accepted the group's first webhook:
 * the first message goes out from there, paced, within seconds.
 */
function describeTimeline(
  snapshot: IncidentSnapshot,
  flags: IncidentFlags,
  began: number,
  end: number,
  clock: DisplayClock,
): string {
  const events: [string, number][] = [['notified', snapshot.startedAt]];
  if (flags.acknowledged && flags.acknowledged.at <= end)
    events.push([`acknowledged by ${flags.acknowledged.by}`, flags.acknowledged.at]);
  events.push(['resolved', end]);
  // In the order they happened: a group Alertmanager sent late may have resolved before the relay heard of it.
  events.sort((a, b) => a[1] - b[1]);
  const steps = [`Fired ${clock.format(began)}`];
  let previous = began;
  for (const [what, at] of events) {
    steps.push(`${what} ${formatSpan(Math.max(0, at - previous))} later`);
    previous = Math.max(previous, at);
  }
  return toWellFormed(`${steps.join(' → ')} (${formatSpan(end - began)} in all)`);
}

/** Steps of a quick incident take seconds: "18s" says more than "0m". Otherwise as every duration. */
function formatSpan(ms: number): string {
  return ms < 60_000 ? `${Math.round(Math.max(0, ms) / 1000)}s` : formatElapsed(ms);
}

function describeAcknowledgement(
  flags: IncidentFlags,
  snapshot: IncidentSnapshot,
  began: number,
  clock: DisplayClock,
): string | undefined {
  if (!flags.acknowledged) return undefined;
  const { by, at } = flags.acknowledged;
  return toWellFormed(
    `Acknowledged by ${by} at ${clock.format(at)}, ${formatSpan(at - began)} after it fired${
      acknowledgementCovers(flags, snapshot) ? '' : '; new alerts since, so reminders resumed'
    }`,
  );
}

function describeSilences(flags: IncidentFlags, now: number, clock: DisplayClock): string | undefined {
  const active = (flags.silences ?? []).filter((x) => x.until > now);
  if (!active.length || !flags.silencedUntil || flags.silencedUntil <= now) return undefined;
  const first = active[0]!;
  return toWellFormed(
    `Silenced by ${first.by} until ${clock.format(flags.silencedUntil)} (${first.matched} alert${first.matched === 1 ? '' : 's'} matched, silence ${first.id.slice(0, 8)}); reminders paused`,
  );
}

export const SEVERITY_MARK: Record<string, string> = { critical: '🔴', warning: '🟠', info: '🔵' };

export function headlineOf(view: Pick<MessageView, 'severity' | 'status'>): string {
  if (view.status === 'resolved') return `✅ RESOLVED (was ${view.severity.toUpperCase()})`;
  return `${SEVERITY_MARK[view.severity] ?? '⚪'} ${view.severity.toUpperCase()}`;
}
