/**
 * Slack rendering: Block Kit inside an attachment (Block Kit has no colour; the attachment gives the bar),
 * a plain-text fallback, and thread replies. Every label and annotation is escaped for mrkdwn, so a value
 * like `<!channel>` or `<http://x|y>` is shown, never executed.
 *
 * Slack's limits are respected by shortening, never by failing (Slack answers msg_too_long or
 * invalid_blocks, which are permanent and would dead-letter the delivery): see SLACK_LIMITS. Shortened text
 * ends with a visible "…" and, where there is one, a link to the whole incident.
 */
import type { KnownBlock } from '@slack/types';
import { toWellFormed } from '../../context/safe-text.js';
import { type IncidentNotice, SLACK_USER_ID } from '../../domain/ladder.js';
import type { ChangeSummary, StaleAlertmanager } from '../../domain/plan.js';
import { colourOf } from '../../render/colours.js';
import { formatElapsed, formatTime } from '../../render/describe.js';
import { type AssetView, headlineOf, type MessageView } from '../../render/view.js';

export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Slack's documented limits (Block Kit reference, chat.postMessage): a header's text 150 characters, a
 * section's or a context element's text 3,000, a section's fields 10 of at most 2,000 each, 50 blocks, 10
 * context elements, 25 elements in an actions block, a button's text 75. Top-level `text` is cut by
 * Slack at 40,000, and what a notification shows is far less, so it is kept to 3,000 like a section. Slack
 * also refuses a message whose blocks hold about 13,000 characters in all (msg_blocks_too_long; undocumented,
 * reported at 13,172-13,297), so block texts share a budget of 12,000.
 */
export const SLACK_LIMITS = {
  text: 3000,
  header: 150,
  section: 3000,
  fields: 10,
  field: 2000,
  blocks: 50,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  blocksTotal: 12_000,
} as const;

/** Where a shortened message points for the rest: the incident in the relay, else Alertmanager. */
function moreLinkOf(view: Pick<MessageView, 'incidentUrl' | 'links'>): string | undefined {
  return view.incidentUrl ?? view.links.find((l) => l.label === 'Alertmanager')?.url;
}

/**
 * Cuts mrkdwn text (already escaped) to `limit` characters with a visible "…" and, when given, a link to
 * the rest. Never cuts inside an escaped entity (&amp;) or between the two halves of a surrogate pair.
 */
export function shorten(text: string, limit: number, moreUrl?: string): string {
  if (text.length <= limit) return text;
  const more = moreUrl && moreUrl.length + 12 < limit / 2 ? `… <${moreUrl}|more>` : '…';
  let cut = Math.max(0, limit - more.length);
  const amp = text.lastIndexOf('&', cut);
  if (amp >= 0 && amp > cut - 5 && !text.slice(amp, cut).includes(';')) cut = amp;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}${more}`;
}

type Block = KnownBlock;

function section(text: string, moreUrl?: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: shorten(text, SLACK_LIMITS.section, moreUrl) } };
}

function contextBlock(text: string, moreUrl?: string): Block {
  return {
    type: 'context',
    elements: [{ type: 'mrkdwn', text: shorten(text, SLACK_LIMITS.section, moreUrl) }],
  };
}

/** Splits lines into sections of at most SLACK_LIMITS.section characters. */
function sections(lines: string[], moreUrl?: string): Block[] {
  const out: Block[] = [];
  let current = '';
  for (const line of lines) {
    if (current && current.length + line.length + 1 > SLACK_LIMITS.section) {
      out.push(section(current, moreUrl));
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) out.push(section(current, moreUrl));
  return out;
}

/** The characters of a block Slack counts: its text, its fields, its elements' texts. */
function blockTextLength(block: Block): number {
  const b = block as {
    text?: { text?: string };
    elements?: { text?: unknown }[];
    fields?: { text?: string }[];
  };
  let n = b.text?.text?.length ?? 0;
  for (const e of b.elements ?? []) {
    if (typeof e.text === 'string') n += e.text.length;
    else if (typeof (e.text as { text?: string } | undefined)?.text === 'string')
      n += (e.text as { text: string }).text.length;
  }
  for (const f of b.fields ?? []) n += f.text?.length ?? 0;
  return n;
}

/**
 * Keeps the head blocks that fit beside the tail (links, buttons, incident id, which always stay) within
 * the block count and the text budget; what does not fit is replaced by one "message shortened" line.
 */
function fitBlocks(head: Block[], tail: Block[], moreUrl: string | undefined): Block[] {
  const notice = section(
    moreUrl ? `…message shortened; <${moreUrl}|see the whole incident>` : '…message shortened',
  );
  const tailLength = tail.reduce((n, b) => n + blockTextLength(b), 0);
  const total = head.reduce((n, b) => n + blockTextLength(b), 0) + tailLength;
  if (head.length + tail.length <= SLACK_LIMITS.blocks && total <= SLACK_LIMITS.blocksTotal)
    return [...head, ...tail];
  const maxBlocks = SLACK_LIMITS.blocks - tail.length - 1;
  let budget = SLACK_LIMITS.blocksTotal - tailLength - blockTextLength(notice);
  const kept: Block[] = [];
  for (const block of head) {
    const length = blockTextLength(block);
    if (kept.length >= maxBlocks) break;
    if (length > budget) {
      // A section too long for what is left is shortened to fit, if a useful part fits.
      const text = (block as { type: string; text?: { type: string; text: string } }).text;
      if (block.type === 'section' && text && budget > 200)
        kept.push(section(shorten(text.text, budget, moreUrl), moreUrl));
      break;
    }
    kept.push(block);
    budget -= length;
  }
  return [...kept, notice, ...tail];
}

export interface SlackRender {
  text: string;
  attachments: { color: string; blocks: KnownBlock[]; fallback: string }[];
}

export interface SlackRenderOptions {
  /** Extra blocks (e.g. action buttons) added at the end when the incident is firing. */
  actions?: KnownBlock[];
}

/** A tel: link as Slack mrkdwn; the number is digits only (links.ts telUrl), the text escaped. */
function callLink(call: { tel: string; phone: string }): string {
  return `<${call.tel}|${escapeMrkdwn(call.phone)}>`;
}

/** One vehicle, shipment or place: a compact block (title, driver to call, facts, its dashboard). */
function assetSection(asset: AssetView, marked: boolean, more: string | undefined): Block {
  const e = escapeMrkdwn;
  const mark = marked ? (asset.status === 'firing' ? ':red_circle: ' : ':white_check_mark: ') : '';
  const lines = [`${mark}*${e(asset.title)}*`];
  if (asset.driver) {
    const phone =
      asset.driver.tel && asset.driver.phone
        ? ` · ${callLink({ tel: asset.driver.tel, phone: asset.driver.phone })}`
        : '';
    lines.push(`driver ${e(asset.driver.name)}${phone}`);
  }
  lines.push(...asset.facts.map(e));
  if (asset.dashboard) lines.push(`<${asset.dashboard}|Dashboard>`);
  return section(lines.join('\n'), more);
}

export function renderSlackRoot(view: MessageView, options: SlackRenderOptions = {}): SlackRender {
  const e = escapeMrkdwn;
  const more = moreLinkOf(view);
  const headline = headlineOf(view);
  const resolved = view.status === 'resolved';
  const head: Block[] = [
    // Escaped in plain_text too: Slack treats &, <, > as control characters in every text object.
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: shorten(e(`${headline} · ${view.title}`), SLACK_LIMITS.header),
        emoji: true,
      },
    },
  ];
  // What to do comes first, with the number to call, before any longer context (above Slack's fold).
  if (view.firstAction && !resolved) {
    const calls = view.firstAction.calls.map((c) => `:telephone_receiver: Call ${e(c.name)}: ${callLink(c)}`);
    head.push(section([`*First action:* ${e(view.firstAction.text)}`, ...calls].join('\n'), more));
  }
  const facts = [
    // Once resolved, the alert's own summary describes the moment it fired, not now.
    view.summary ? (resolved ? `_When it fired:_ ${e(view.summary)}` : `*${e(view.summary)}*`) : undefined,
    view.description && view.description !== view.summary ? e(view.description) : undefined,
    resolved
      ? `Resolved after ${view.duration} (started ${view.startedAt}).`
      : `Firing since ${view.startedAt} (${view.duration}) · ${view.counts.firing} firing${view.counts.resolved ? `, ${view.counts.resolved} resolved` : ''}`,
    view.timeline ? e(view.timeline) : undefined,
  ].filter((x): x is string => Boolean(x));
  // The state line comes first when the summary is too long to leave room for it.
  const factsText = facts.join('\n');
  head.push(
    section(
      factsText.length > SLACK_LIMITS.section ? [facts.at(-1)!, ...facts.slice(0, -1)].join('\n') : factsText,
      more,
    ),
  );
  if (view.context) {
    const marked = view.assets.length > 1;
    if (view.assets.length) head.push(section(`*${e(view.context.heading)}*`, more));
    head.push(...view.assets.map((asset) => assetSection(asset, marked, more)));
    const lines = view.context.lines.map((l) => `• ${e(l)}`);
    if (view.context.unavailable) lines.push(`_Context unavailable: ${e(view.context.unavailable)}_`);
    if (lines.length)
      head.push(
        ...sections([...(view.assets.length ? [] : [`*${e(view.context.heading)}*`]), ...lines], more),
      );
  }
  const alertLines = view.alerts.map((a) => {
    const labels = a.labels.map(([k, v]) => `${e(k)}=\`${e(v)}\``).join(' ');
    const mark = a.status === 'firing' ? ':red_circle:' : ':white_check_mark:';
    const value = a.value ? ` · value ${e(a.value)}` : '';
    const summary = a.summary ? ` — ${e(a.summary)}` : '';
    // One alert's line never takes more than a section.
    return shorten(
      `${mark} ${labels || '(no distinguishing labels)'}${value} · ${e(a.since)}${summary}`,
      SLACK_LIMITS.section,
    );
  });
  if (view.overflow > 0) alertLines.push(`…and ${view.overflow} more`);
  if (view.truncatedAlerts > 0)
    alertLines.push(
      `:warning: Alertmanager left ${view.truncatedAlerts} more alert${view.truncatedAlerts > 1 ? 's' : ''} out of this notification (max_alerts).`,
    );
  head.push(...sections(alertLines, more));
  const status = [view.acknowledged, view.silenced, ...(view.notices ?? []), view.escalation]
    .filter((x): x is string => Boolean(x))
    .map(e);
  if (status.length) head.push(section(status.join('\n'), more));
  const tail: Block[] = [];
  if (view.links.length)
    tail.push(
      contextBlock(view.links.map((l) => `<${l.url.replace(/\|/g, '%7C')}|${e(l.label)}>`).join(' · ')),
    );
  if (view.status === 'firing' && options.actions) tail.push(...options.actions);
  tail.push(
    contextBlock(
      view.incidentUrl
        ? `incident \`${view.incidentId}\` · <${view.incidentUrl.replace(/\|/g, '%7C')}|details>`
        : `incident \`${view.incidentId}\``,
    ),
  );
  const fallback = shorten(
    e(`${headline} ${view.title}${view.summary ? `: ${view.summary}` : ''}`),
    SLACK_LIMITS.text,
    more,
  );
  return {
    text: fallback,
    attachments: [
      {
        color: colourOf(view),
        blocks: fitBlocks(head, tail, more),
        fallback,
      },
    ],
  };
}

/** The same message without blocks, for when Slack refuses the blocks (invalid_blocks). */
export function renderSlackPlain(view: MessageView): string {
  const e = escapeMrkdwn;
  const line = (text: string) => shorten(text, 500);
  const lines = [line(`${headlineOf(view)} ${e(view.title)}`)];
  // The first action and who to call stay first here too.
  if (view.firstAction && view.status === 'firing') {
    lines.push(line(`First action: ${e(view.firstAction.text)}`));
    for (const call of view.firstAction.calls) lines.push(line(`Call ${e(call.name)}: ${callLink(call)}`));
  }
  if (view.summary) lines.push(line(e(view.summary)));
  for (const a of view.alerts)
    lines.push(line(`• ${a.status} ${a.labels.map(([k, v]) => `${e(k)}=${e(v)}`).join(' ')} ${e(a.since)}`));
  if (view.truncatedAlerts) lines.push(`Alertmanager left ${view.truncatedAlerts} more alerts out.`);
  for (const l of view.links) lines.push(`${e(l.label)}: ${l.url}`);
  return shorten(lines.join('\n'), SLACK_LIMITS.text, moreLinkOf(view));
}

function alertNames(alerts: ChangeSummary['joined']): string {
  const names = alerts
    .slice(0, 5)
    .map((a) => a.labels.vehicle_id ?? a.labels.instance ?? a.labels.alertname ?? a.fingerprint);
  return (
    names.map((n) => `\`${shorten(escapeMrkdwn(toWellFormed(n)), 200)}\``).join(', ') +
    (alerts.length > 5 ? ` and ${alerts.length - 5} more` : '')
  );
}

export function renderChangeReply(change: ChangeSummary, view: MessageView): string {
  return shorten(changeReplyText(change, view), SLACK_LIMITS.text, moreLinkOf(view));
}

function changeReplyText(change: ChangeSummary, view: MessageView): string {
  if (change.incidentResolved)
    return `:white_check_mark: Resolved after ${view.duration}.${view.timeline ? `\n${escapeMrkdwn(view.timeline)}` : ''}`;
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

/**
 * Said once when a group goes stale. Correct advice differs: with ALERTMANAGER_URL the relay asked and no
 * Alertmanager answered, or those that answered do not know the alerts (`alertmanager`); without it the
 * relay only knows the heartbeat stopped, which also happens when the alerts ended while silenced or
 * inhibited (Alertmanager then sends no resolve).
 */
export function renderStaleReply(
  lastSeenAt: number,
  now: number,
  alertmanager?: StaleAlertmanager,
  timeZone?: string,
): string {
  const since = `since ${formatTime(lastSeenAt, timeZone, now)} (${formatElapsed(now - lastSeenAt)} ago)`;
  const at = alertmanager ? `Alertmanager at ${alertmanager.urls.map(escapeMrkdwn).join(', ')}` : '';
  if (alertmanager && !alertmanager.answered)
    return `:grey_question: ${at} cannot be reached, and it has not re-sent this group ${since}: the relay cannot tell whether the alerts still fire. Reminders stop until Alertmanager answers or re-sends the group; check that it is up and reachable from the relay.`;
  if (alertmanager)
    return `:grey_question: ${at} answers but does not report these alerts, and Alertmanager has not re-sent this group ${since}. Either ALERTMANAGER_URL does not name the Alertmanagers that send them, or they restarted and have not heard from Prometheus yet. Reminders stop until the group is re-sent or reported.`;
  return `:grey_question: Alertmanager has not re-sent this group ${since}. Either the alerts ended while silenced or inhibited (Alertmanager then sends no resolve), or Alertmanager or its route to the relay is down: look the group up in Alertmanager. Reminders stop until it re-sends; set ALERTMANAGER_URL so the relay can ask Alertmanager itself.`;
}

export function renderAcknowledgedReply(
  by: string,
  at: number,
  startedAt: number,
  timeZone?: string,
): string {
  return `:eyes: Acknowledged by ${shorten(escapeMrkdwn(toWellFormed(by)), 200)} at ${formatTime(at, timeZone)}, ${formatElapsed(at - startedAt)} after it fired. Reminders stop; new alerts in this group resume them.`;
}

/** An escalation or a lapse, in the thread; mentions only of Slack user ids from configuration or a schedule. */
export function renderNoticeReply(notice: IncidentNotice): string {
  const mentions = notice.mentions.filter((id) => SLACK_USER_ID.test(id)).map((id) => `<@${id}>`);
  const mark = notice.reminds ? ':alarm_clock:' : ':arrow_double_up:';
  return shorten(
    `${mark} ${escapeMrkdwn(toWellFormed(notice.text))}.${mentions.length ? ` ${mentions.join(' ')}` : ''}`,
    SLACK_LIMITS.text,
  );
}
