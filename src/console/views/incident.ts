/**
 * `/incidents/{id}`: one incident in full. Its cold-chain context, the alerts, every delivery with its Slack
 * message and email thread, the next reminder, the timeline, and the Acknowledge and Silence forms (POST,
 * each with its CSRF token and a required "your name" field: the name is who gets the credit).
 */
import { html } from 'hono/html';
import { displayUrl } from '../../alertmanager/alerts.js';
import { pickRunbook } from '../../context/links.js';
import { formatDuration } from '../../domain/duration.js';
import { acknowledgementCovers } from '../../domain/plan.js';
import { descriptionOf, distinguishingLabels, safeUrl, summaryOf, titleOf } from '../../render/describe.js';
import { type IncidentDetail, slackPermalink } from '../incident-detail.js';
import type { SilenceRequest } from '../silence-requests.js';
import { type Html, type PageOptions, page, severityBadge, time } from './layout.js';

/** Labels that carry the cold-chain facts, in the order a dispatcher reads them. */
const COLD_CHAIN_LABELS = ['vehicle_id', 'shipment_id', 'zone', 'depot', 'facility', 'product', 'cargo'];

export interface IncidentPageForms {
  /** CSRF tokens, one per form action. */
  ackToken: string;
  silenceToken: string;
  /** Offered silence lengths (seconds, policy silence_durations); empty without ALERTMANAGER_URL. */
  silenceDurations: readonly number[];
  alertmanagerUrls: readonly string[];
  /** Recent silence requests (console/silence-requests.ts), newest first. */
  silenceRequests: readonly SilenceRequest[];
}

/** A short message after a POST (the redirect's `?done=`), from a fixed list: the query is never echoed. */
export const NOTICES = {
  acknowledged: 'Acknowledged. Reminders stop; the Slack message and the email thread are being updated.',
  already: 'Already acknowledged: nothing changed.',
  'silence-requested':
    'Silence requested: the relay is creating it on every Alertmanager now. Reload to see it in the timeline.',
  resolved: 'The incident is already resolved: nothing changed.',
} as const;
export type Notice = keyof typeof NOTICES;

function coldChainSection(detail: IncidentDetail): Html {
  const summary = detail.item.coldChain;
  const { snapshot } = detail;
  const labels = { ...snapshot.groupLabels, ...snapshot.commonLabels };
  const facts: [string, Html | string][] = [];
  for (const name of COLD_CHAIN_LABELS) if (labels[name]) facts.push([name, labels[name] as string]);
  if (summary.cargoRange) facts.push(['cargo range', summary.cargoRange]);
  if (summary.budgetUsedPct !== undefined)
    facts.push(['excursion budget used', `${Math.round(summary.budgetUsedPct)} %`]);
  const summaryText = summaryOf(snapshot);
  const description = descriptionOf(snapshot);
  const runbook = safeUrl(pickRunbook(snapshot.alerts, undefined));
  if (summaryText) facts.push(['summary', summaryText]);
  if (description) facts.push(['description', description]);
  if (runbook) facts.push(['runbook', html`<a href="${runbook}" rel="noreferrer">${runbook}</a>`]);
  if (detail.flags.escalation) facts.push(['escalation', detail.flags.escalation.reason]);
  if (facts.length === 0) return html`<p class="muted">No cold-chain labels on this incident.</p>`;
  return html`<dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function alertsSection(detail: IncidentDetail, now: number): Html {
  const { snapshot } = detail;
  const more = snapshot.truncatedAlerts + (snapshot.omittedAlerts ?? 0);
  return html`<table>
<thead><tr><th scope="col">Status</th><th scope="col">Since</th><th scope="col">Labels</th><th scope="col">Fingerprint</th></tr></thead>
<tbody>${snapshot.alerts.map(
    (
      a,
    ) => html`<tr><td><span class="status ${a.status}">${a.status}</span></td><td>${time(a.startsAt, now)}</td>
<td>${distinguishingLabels(a, snapshot).map(([k, v]) => html`<code>${k}=${v}</code> `)}</td><td><code>${a.fingerprint}</code></td></tr>`,
  )}</tbody>
</table>${more > 0 ? html`<p class="muted">and ${String(more)} more alert(s) Alertmanager did not send in full.</p>` : ''}`;
}

function deliveriesSection(detail: IncidentDetail, now: number): Html {
  if (detail.deliveries.length === 0) return html`<p class="muted">No destination yet.</p>`;
  return html`<table>
<thead><tr><th scope="col">Channel</th><th scope="col">Destination</th><th scope="col">Last outcome</th><th scope="col">Message</th><th scope="col">Reminders sent</th><th scope="col">Next reminder</th></tr></thead>
<tbody>${detail.deliveries.map(({ target, log, nextReminderAt }) => {
    const root = log.root;
    const link = slackPermalink(root?.channel, root?.ts);
    const message =
      target.kind === 'slack'
        ? link
          ? html`<a href="${link}" rel="noreferrer">Slack message</a> <span class="muted">(channel <code>${root?.channel ?? ''}</code>, ts <code>${root?.ts ?? ''}</code>)</span>`
          : html`<span class="muted">not posted yet</span>`
        : root?.messageId
          ? html`thread “${root.subject ?? ''}”<br><span class="muted">Message-ID <code>${root.messageId}</code>, ${String(log.references.length)} mail(s)</span>`
          : html`<span class="muted">no mail sent yet</span>`;
    return html`<tr><td>${target.kind}</td><td>${target.target} <span class="muted">(route ${target.route})</span></td>
<td class="outcome-${log.lastOutcome ?? 'pending'}">${log.lastOutcome ? log.lastOutcome.replace('_', '-') : 'pending'}</td><td>${message}</td><td>${String(log.reminders)}</td>
<td>${nextReminderAt ? time(nextReminderAt, now) : html`<span class="muted">none</span>`}</td></tr>`;
  })}</tbody>
</table>`;
}

function timelineSection(detail: IncidentDetail, now: number): Html {
  return html`<table>
<thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Detail</th></tr></thead>
<tbody>${detail.timeline.map(
    (e) => html`<tr><td>${time(e.at, now)}</td><td>${e.event}</td><td>${e.detail}</td></tr>`,
  )}</tbody>
</table>`;
}

function silenceRequestsPart(requests: readonly SilenceRequest[], now: number): Html {
  if (requests.length === 0) return html``;
  return html`<h2>Silence requests</h2>
<ul class="requests">${requests.map(
    (r) =>
      html`<li>${time(r.requestedAt, now)}: ${r.by} (from ${r.from}) for ${formatDuration(r.durationMs / 1000)}: ${
        r.state === 'pending'
          ? html`<strong>pending</strong>, the relay is asking Alertmanager`
          : (r.text ?? r.state)
      }</li>`,
  )}</ul>`;
}

function nameField(id: string): Html {
  return html`<label for="${id}">Your name <input id="${id}" name="name" required maxlength="80" autocomplete="name"></label>`;
}

function actionForms(detail: IncidentDetail, forms: IncidentPageForms): Html {
  const { snapshot, flags } = detail;
  if (snapshot.status === 'resolved')
    return html`<p class="muted">Resolved: nothing to acknowledge or silence.</p>`;
  const id = snapshot.incidentId;
  const acked = acknowledgementCovers(flags, snapshot);
  const ack = acked
    ? html`<p>Acknowledged by ${flags.acknowledged?.by ?? ''}.</p>`
    : html`<form class="action" method="post" action="/incidents/${id}/acknowledge">
<input type="hidden" name="csrf" value="${forms.ackToken}">
${nameField('ack-name')}
<button type="submit">Acknowledge: I have it</button>
</form>`;
  const silence =
    forms.alertmanagerUrls.length === 0
      ? html`<p class="muted">Silence needs ALERTMANAGER_URL: the relay creates silences in Alertmanager.</p>`
      : html`<form class="action" method="post" action="/incidents/${id}/silence">
<input type="hidden" name="csrf" value="${forms.silenceToken}">
${nameField('silence-name')}
<label for="silence-duration">For <select id="silence-duration" name="duration">${forms.silenceDurations.map(
          (s) => html`<option value="${String(s)}">${formatDuration(s)}</option>`,
        )}</select></label>
<button type="submit" class="secondary">Silence in Alertmanager</button>
</form>`;
  return html`<div class="actions">${ack}${silence}</div>
<p class="muted">Acknowledging stops the reminders on every destination, as Slack's button does. Silencing creates a silence on ${forms.alertmanagerUrls.map(displayUrl).join(', ') || 'no Alertmanager'} and pauses the reminders until it ends.</p>`;
}

export function incidentPage(
  options: Omit<PageOptions, 'title' | 'current'>,
  detail: IncidentDetail,
  forms: IncidentPageForms,
  notice: Notice | undefined,
): Html {
  const { snapshot, flags } = detail;
  const now = options.now;
  const title = titleOf(snapshot);
  const silenced = flags.silencedUntil && flags.silencedUntil > now ? flags.silencedUntil : undefined;
  return page(
    { ...options, title },
    html`<h1>${severityBadge(snapshot.severity)} ${title}</h1>
${notice ? html`<p class="notice" role="status">${NOTICES[notice]}</p>` : ''}
<dl class="facts">
<dt>Status</dt><dd><span class="status ${snapshot.status}">${snapshot.status}</span>${
      flags.acknowledged
        ? html`, acknowledged by ${flags.acknowledged.by} ${time(flags.acknowledged.at, now)}`
        : ''
    }${silenced ? html`, silenced until ${time(silenced, now)}` : ''}</dd>
<dt>Firing since</dt><dd>${time(detail.item.firingSince, now)}</dd>
${detail.item.escalationStep > 0 ? html`<dt>Escalation</dt><dd>step ${String(detail.item.escalationStep)} of the route's ladder</dd>` : ''}
${snapshot.resolvedAt ? html`<dt>Resolved</dt><dd>${time(snapshot.resolvedAt, now)}</dd>` : ''}
<dt>Incident</dt><dd><code>${snapshot.incidentId}</code> · receiver <code>${snapshot.receiver}</code></dd>
</dl>
${actionForms(detail, forms)}
${silenceRequestsPart(forms.silenceRequests, now)}
<h2>Cold-chain context</h2>
${coldChainSection(detail)}
<h2>Alerts</h2>
${alertsSection(detail, now)}
<h2>Deliveries</h2>
${deliveriesSection(detail, now)}
<h2>Timeline</h2>
${timelineSection(detail, now)}`,
  );
}
