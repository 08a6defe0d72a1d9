/**
 * Slack rendering: Block Kit inside an attachment (Block Kit has no colour; the attachment gives the bar),
 * a plain-text fallback, and thread replies. Every label and annotation is escaped for mrkdwn, so a value
 * like `<!channel>` or `<http://x|y>` is shown, never executed. Slack's limits are respected: at most 50
 * blocks, 3000 characters per section, 150 per header.
 */
import type { ChangeSummary } from '../deliver/plan.js';
import { formatElapsed, formatTime } from './describe.js';
import { headlineOf, type MessageView } from './view.js';

export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const COLOURS: Record<string, string> = { critical: '#E01E5A', warning: '#ECB22E', info: '#36C5F0' };
const RESOLVED_COLOUR = '#2EB67D';
const SECTION_LIMIT = 3000;
const MAX_BLOCKS = 50;

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

function section(text: string): Record<string, unknown> {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, SECTION_LIMIT) } };
}

function contextBlock(text: string): Record<string, unknown> {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(text, SECTION_LIMIT) }] };
}

/** Splits lines into sections of at most SECTION_LIMIT characters. */
function sections(lines: string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let current = '';
  for (const line of lines) {
    if (current && current.length + line.length + 1 > SECTION_LIMIT) {
      out.push(section(current));
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) out.push(section(current));
  return out;
}

export interface SlackRender {
  text: string;
  attachments: { color: string; blocks: Record<string, unknown>[]; fallback: string }[];
}

export interface SlackRenderOptions {
  /** Extra blocks (e.g. action buttons) added at the end when the incident is firing. */
  actions?: Record<string, unknown>[];
}

export function renderSlackRoot(view: MessageView, options: SlackRenderOptions = {}): SlackRender {
  const e = escapeMrkdwn;
  const headline = headlineOf(view);
  const blocks: Record<string, unknown>[] = [
    // Escaped in plain_text too: Slack treats &, <, > as control characters in every text object.
    {
      type: 'header',
      text: { type: 'plain_text', text: truncate(e(`${headline} · ${view.title}`), 150), emoji: true },
    },
  ];
  const facts = [
    view.summary ? `*${e(view.summary)}*` : undefined,
    view.description && view.description !== view.summary ? e(view.description) : undefined,
    view.status === 'resolved'
      ? `Resolved after ${view.duration} (started ${view.startedAt}).`
      : `Firing since ${view.startedAt} (${view.duration}) · ${view.counts.firing} firing${view.counts.resolved ? `, ${view.counts.resolved} resolved` : ''}`,
  ].filter((x): x is string => Boolean(x));
  blocks.push(section(facts.join('\n')));
  if (view.context) {
    const lines = view.context.lines.map((l) => `• ${e(l)}`);
    if (view.context.unavailable) lines.push(`_Context unavailable: ${e(view.context.unavailable)}_`);
    blocks.push(...sections([`*${e(view.context.heading)}*`, ...lines]));
  }
  const alertLines = view.alerts.map((a) => {
    const labels = a.labels.map(([k, v]) => `${e(k)}=\`${e(v)}\``).join(' ');
    const mark = a.status === 'firing' ? ':red_circle:' : ':white_check_mark:';
    const value = a.value ? ` · value ${e(a.value)}` : '';
    const summary = a.summary ? ` — ${e(a.summary)}` : '';
    return `${mark} ${labels || '(no distinguishing labels)'}${value} · ${e(a.since)}${summary}`;
  });
  if (view.overflow > 0) alertLines.push(`…and ${view.overflow} more`);
  if (view.truncatedAlerts > 0)
    alertLines.push(
      `:warning: Alertmanager left ${view.truncatedAlerts} more alert${view.truncatedAlerts > 1 ? 's' : ''} out of this notification (max_alerts).`,
    );
  blocks.push(...sections(alertLines));
  const status = [view.acknowledged, view.silenced].filter((x): x is string => Boolean(x)).map(e);
  if (status.length) blocks.push(section(status.join('\n')));
  if (view.links.length)
    blocks.push(contextBlock(view.links.map((l) => `<${l.url}|${e(l.label)}>`).join(' · ')));
  if (view.status === 'firing' && options.actions) blocks.push(...options.actions);
  blocks.push(contextBlock(`incident \`${view.incidentId}\``));
  const limited =
    blocks.length > MAX_BLOCKS ? [...blocks.slice(0, MAX_BLOCKS - 1), section('…message shortened')] : blocks;
  const fallback = `${headline} ${view.title}${view.summary ? `: ${view.summary}` : ''}`;
  return {
    text: e(fallback),
    attachments: [
      {
        color: view.status === 'resolved' ? RESOLVED_COLOUR : (COLOURS[view.severity] ?? '#888888'),
        blocks: limited,
        fallback: e(fallback),
      },
    ],
  };
}

/** The same message without blocks, for when Slack refuses the blocks (invalid_blocks). */
export function renderSlackPlain(view: MessageView): string {
  const e = escapeMrkdwn;
  const lines = [`${headlineOf(view)} ${e(view.title)}`];
  if (view.summary) lines.push(e(view.summary));
  for (const a of view.alerts)
    lines.push(`• ${a.status} ${a.labels.map(([k, v]) => `${e(k)}=${e(v)}`).join(' ')} ${e(a.since)}`);
  if (view.truncatedAlerts) lines.push(`Alertmanager left ${view.truncatedAlerts} more alerts out.`);
  for (const l of view.links) lines.push(`${e(l.label)}: ${l.url}`);
  return truncate(lines.join('\n'), 3900);
}

function alertNames(alerts: ChangeSummary['joined']): string {
  const names = alerts
    .slice(0, 5)
    .map((a) => a.labels.vehicle_id ?? a.labels.instance ?? a.labels.alertname ?? a.fingerprint);
  return (
    names.map((n) => `\`${escapeMrkdwn(n)}\``).join(', ') +
    (alerts.length > 5 ? ` and ${alerts.length - 5} more` : '')
  );
}

export function renderChangeReply(change: ChangeSummary, view: MessageView): string {
  if (change.incidentResolved)
    return `:white_check_mark: Resolved after ${view.duration}.${view.acknowledged ? ` ${escapeMrkdwn(view.acknowledged)}.` : ''}`;
  const parts: string[] = [];
  if (change.joined.length)
    parts.push(`:heavy_plus_sign: ${change.joined.length} firing: ${alertNames(change.joined)}`);
  if (change.resolved.length)
    parts.push(`:white_check_mark: ${change.resolved.length} resolved: ${alertNames(change.resolved)}`);
  if (change.truncatedNow !== change.truncatedBefore)
    parts.push(`Alertmanager now leaves ${change.truncatedNow} alerts out (max_alerts).`);
  parts.push(
    `Now ${view.counts.firing} firing${view.counts.resolved ? `, ${view.counts.resolved} resolved` : ''}.`,
  );
  return parts.join('\n');
}

export function renderReminderReply(number: number, view: MessageView): string {
  return `:rotating_light: Reminder ${number}: still firing after ${view.duration} (${view.counts.firing} alert${view.counts.firing === 1 ? '' : 's'}).`;
}

export function renderStaleReply(lastSeenAt: number, now: number): string {
  return `:grey_question: Alertmanager has not re-sent this group since ${formatTime(lastSeenAt)} (${formatElapsed(now - lastSeenAt)} ago). Reminders stop until it does; check Alertmanager and its route to the relay.`;
}

export function renderAcknowledgedReply(by: string, at: number, startedAt: number): string {
  return `:eyes: Acknowledged by ${escapeMrkdwn(by)} at ${formatTime(at)}, ${formatElapsed(at - startedAt)} after it fired. Reminders stop; new alerts in this group resume them.`;
}
