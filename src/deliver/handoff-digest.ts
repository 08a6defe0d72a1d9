/**
 * The shift-handoff digest (issue 12): at a schedule's handoff, the open incidents with their state (firing
 * since, acknowledged by, escalated to, silenced until), for the schedule's `handoff_slack` channel and the
 * incoming person's mailbox. Pure: data in, text out; labels and names are data, escaped per channel.
 */
import { escapeMrkdwn } from '../channels/slack/blocks.js';
import { toWellFormed } from '../context/safe-text.js';
import type { IncidentFlags } from '../domain/delivery-log.js';
import { formatElapsed } from '../domain/duration.js';
import type { IncidentSnapshot } from '../domain/model.js';
import type { OnCallMember } from '../oncall/types.js';
import { formatTime, titleOf } from '../render/describe.js';

export interface DigestIncident {
  snapshot: IncidentSnapshot;
  flags: IncidentFlags;
}

export interface DigestLine {
  incidentId: string;
  severity: string;
  title: string;
  /** "firing since 03:02 UTC (6h 58m)", then the state parts. */
  state: string[];
}

export interface HandoffDigest {
  schedule: string;
  at: number;
  incoming: string;
  lines: DigestLine[];
}

/** What each open incident's state is at the handoff, newest first as the index lists them. */
export function buildHandoffDigest(input: {
  schedule: string;
  at: number;
  incoming: readonly OnCallMember[];
  incidents: readonly DigestIncident[];
  always: boolean;
}): HandoffDigest | undefined {
  const open = input.incidents.filter((i) => i.snapshot.status === 'firing');
  if (open.length === 0 && !input.always) return undefined;
  return {
    schedule: input.schedule,
    at: input.at,
    incoming: input.incoming.map((m) => m.name).join(', ') || 'nobody (on-call unknown)',
    lines: open.map(({ snapshot, flags }) => ({
      incidentId: snapshot.incidentId,
      severity: snapshot.severity,
      title: titleOf(snapshot),
      state: stateOf(snapshot, flags, input.at),
    })),
  };
}

function stateOf(snapshot: IncidentSnapshot, flags: IncidentFlags, at: number): string[] {
  const parts = [
    `firing since ${formatTime(snapshot.startedAt)} (${formatElapsed(at - snapshot.startedAt)})`,
  ];
  parts.push(
    flags.acknowledged
      ? `acknowledged by ${flags.acknowledged.by} at ${formatTime(flags.acknowledged.at)}`
      : 'unacknowledged',
  );
  const escalated = [
    ...(flags.escalation?.notified ?? []),
    ...(flags.ladder?.steps.flatMap((s) => s.targets) ?? []),
  ];
  if (escalated.length) parts.push(`escalated to ${[...new Set(escalated)].join(', ')}`);
  if (flags.silencedUntil !== undefined && flags.silencedUntil > at)
    parts.push(`silenced until ${formatTime(flags.silencedUntil)}`);
  return parts;
}

function headingOf(digest: HandoffDigest): string {
  const count = digest.lines.length;
  return `Shift handoff (${digest.schedule}) at ${formatTime(digest.at)}: ${digest.incoming} on call; ${count === 0 ? 'no open incidents' : `${count} open incident${count === 1 ? '' : 's'}`}`;
}

/** Slack mrkdwn: every value escaped, so a label such as `<!channel>` is shown, never executed. */
export function renderDigestSlack(digest: HandoffDigest): string {
  const e = (text: string) => escapeMrkdwn(toWellFormed(text));
  const lines = [`:clipboard: *${e(headingOf(digest))}*`];
  for (const line of digest.lines)
    lines.push(
      `• *${e(line.severity.toUpperCase())}* ${e(line.title)} — ${e(line.state.join('; '))} (\`${line.incidentId}\`)`,
    );
  // Slack cuts top-level text at 40,000 characters; a digest that long is cut with a count of the rest.
  let text = '';
  for (const [i, l] of lines.entries()) {
    if (text.length + l.length > 3800) return `${text}…and ${lines.length - i} more`;
    text += `${i ? '\n' : ''}${l}`;
  }
  return text;
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The digest mail to the incoming person: subject, plain text and HTML (every value escaped). */
export function renderDigestMail(digest: HandoffDigest): { subject: string; text: string; html: string } {
  const heading = toWellFormed(headingOf(digest));
  const items = digest.lines.map((l) => ({
    head: toWellFormed(`[${l.severity.toUpperCase()}] ${l.title}`),
    state: toWellFormed(l.state.join('; ')),
    id: l.incidentId,
  }));
  const text = [heading, '', ...items.map((i) => `- ${i.head}: ${i.state} (incident ${i.id})`)].join('\n');
  const html = `<!doctype html><html><body><h2>${escapeHtml(heading)}</h2><ul>${items
    .map(
      (i) =>
        `<li><strong>${escapeHtml(i.head)}</strong>: ${escapeHtml(i.state)} <small>(incident ${escapeHtml(i.id)})</small></li>`,
    )
    .join('')}</ul></body></html>`;
  return {
    subject:
      `Shift handoff (${digest.schedule}): ${digest.lines.length} open incident${digest.lines.length === 1 ? '' : 's'}`.replace(
        /[\r\n]/g,
        ' ',
      ),
    text,
    html,
  };
}
