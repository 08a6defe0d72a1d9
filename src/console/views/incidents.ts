/** `/`: the incident list, open incidents first, with the cold-chain facts an on-call person scans for. */
import { html } from 'hono/html';
import type { IncidentListFilter, IncidentListItem, IncidentListPage } from '../../incidents/types.js';
import { type Html, type PageOptions, page, severityBadge, severityClass, time } from './layout.js';

const STATUSES = ['firing', 'acknowledged', 'silenced', 'resolved'] as const;
const SEVERITIES = ['critical', 'warning', 'info'] as const;
/** Budget use from which the figure is emphasised: the catalog escalates well before the budget is spent. */
const HIGH_BUDGET_PCT = 50;

function deliveriesCell(item: IncidentListItem): Html {
  if (item.deliveries.length === 0) return html`<span class="muted">none yet</span>`;
  return html`${item.deliveries.map(
    (d, i) =>
      html`${i ? html`<br>` : ''}${d.kind} ${d.target}: <span class="outcome-${d.lastOutcome ?? 'pending'}">${d.lastOutcome ? d.lastOutcome.replace('_', '-') : 'pending'}</span>`,
  )}`;
}

function stateCell(item: IncidentListItem, now: number): Html {
  const parts: Html[] = [html`<span class="status ${item.status}">${item.status}</span>`];
  if (item.acknowledgedBy) parts.push(html`<br>by ${item.acknowledgedBy}`);
  if (item.silencedUntil) parts.push(html`<br>silenced until ${time(item.silencedUntil, now)}`);
  if (item.escalationStep > 0) parts.push(html`<br>escalation step ${String(item.escalationStep)}`);
  return html`${parts}`;
}

/** Vehicle and shipment ids, each kept on one line (they hold hyphens). */
function ids(values: readonly string[]): Html {
  if (values.length === 0) return html`<span class="muted">–</span>`;
  return html`${values.map((v, i) => html`${i ? ', ' : ''}<span class="id">${v}</span>`)}`;
}

function budgetCell(pct: number | undefined): Html {
  if (pct === undefined) return html`<span class="muted">–</span>`;
  const rounded = Math.round(pct);
  return html`<span class="budget${rounded >= HIGH_BUDGET_PCT ? ' high' : ''}">${String(rounded)} %</span>`;
}

function row(item: IncidentListItem, now: number): Html {
  const cc = item.coldChain;
  const rowClass = `${severityClass(item.severity)}${item.status === 'resolved' ? ' resolved' : ''}`;
  return html`<tr class="${rowClass}">
<td>${severityBadge(item.severity)}</td>
<td>${stateCell(item, now)}</td>
<td><a href="/incidents/${item.id}">${item.title}</a></td>
<td>${ids(cc.vehicles)}</td>
<td>${ids(cc.shipments)}</td>
<td>${cc.cargoRange ?? html`<span class="muted">–</span>`}</td>
<td>${budgetCell(cc.budgetUsedPct)}</td>
<td>${time(item.firingSince, now)}${item.resolvedAt ? html`<br>resolved ${time(item.resolvedAt, now)}` : ''}</td>
<td>${item.nextReminderAt ? time(item.nextReminderAt, now) : html`<span class="muted">none</span>`}</td>
<td class="deliveries">${deliveriesCell(item)}</td>
</tr>`;
}

/** The query string of a filter (and of a paused refresh), for the pager's and the refresh switch's links. */
export function filterQuery(filter: Partial<IncidentListFilter>, paused = false): string {
  const params = new URLSearchParams();
  for (const key of ['status', 'severity', 'vehicle', 'shipment', 'cursor'] as const) {
    const value = filter[key];
    if (value) params.set(key, value);
  }
  if (paused) params.set('refresh', 'off');
  const text = params.toString();
  return text ? `?${text}` : '';
}

function filterForm(filter: IncidentListFilter, paused: boolean): Html {
  const option = (value: string, current: string | undefined, label = value) =>
    html`<option value="${value}"${current === value ? html` selected` : ''}>${label}</option>`;
  return html`<form class="filters" method="get" action="/">
<label>Status <select name="status">${option('', filter.status, 'any')}${STATUSES.map((s) => option(s, filter.status))}</select></label>
<label>Severity <select name="severity">${option('', filter.severity, 'any')}${SEVERITIES.map((s) => option(s, filter.severity))}${
    filter.severity && !SEVERITIES.includes(filter.severity as (typeof SEVERITIES)[number])
      ? option(filter.severity, filter.severity)
      : ''
  }</select></label>
<label>Vehicle <input name="vehicle" value="${filter.vehicle ?? ''}" placeholder="TRK-0042" size="12"></label>
<label>Shipment <input name="shipment" value="${filter.shipment ?? ''}" placeholder="SHP-2026-11-0193" size="18"></label>
${paused ? html`<input type="hidden" name="refresh" value="off">` : ''}
<button type="submit">Filter</button>
<a href="/">Clear</a>
</form>`;
}

const HEAD = html`<thead><tr><th scope="col">Severity</th><th scope="col">Status</th><th scope="col">Incident</th><th scope="col">Vehicle</th><th scope="col">Shipment</th><th scope="col">Cargo range</th><th scope="col">Budget used</th><th scope="col">Firing since</th><th scope="col">Next reminder</th><th scope="col">Deliveries</th></tr></thead>`;

function table(items: readonly IncidentListItem[], caption: string, now: number): Html {
  return html`<table>
<caption class="muted">${caption}</caption>
${HEAD}
<tbody>
${items.map((item) => row(item, now))}
</tbody>
</table>`;
}

/**
 * What the page lists. Without a status filter, `main` holds the open incidents (firing, acknowledged or
 * silenced: the list's `status=firing`), paged by the cursor, and the first page adds the newest resolved
 * ones after them: open incidents come first however many resolved ones are newer.
 */
export interface IncidentLists {
  main: IncidentListPage;
  recentlyResolved?: IncidentListPage | undefined;
}

/**
 * The list refreshes itself every `refreshSeconds` (a meta refresh: no script), unless paused with
 * `?refresh=off`, the way to turn it off that WCAG 2.2.1 asks for; the pause is kept across filters and pages.
 */
export function incidentsPage(
  options: Omit<PageOptions, 'title' | 'current' | 'refreshSeconds'> & { refreshSeconds: number },
  filter: IncidentListFilter,
  lists: IncidentLists,
  paused: boolean,
): Html {
  const { main, recentlyResolved } = lists;
  const refresh = paused
    ? html`Auto-refresh paused. <a href="/${filterQuery(filter)}">Resume auto-refresh</a>`
    : html`Refreshes every ${String(options.refreshSeconds)} s. <a href="/${filterQuery(filter, true)}">Pause auto-refresh</a>`;
  const what = filter.status
    ? `${filter.status} incidents`
    : 'open incidents (firing, acknowledged or silenced)';
  const mainPart = main.items.length
    ? table(
        main.items,
        `${main.items.length} ${what}${filter.cursor ? ' on this page' : ''}, newest first.`,
        options.now,
      )
    : html`<p class="notice">No ${what}${filterQuery({ ...filter, status: undefined, cursor: undefined }) ? ' match these filters' : ''}.</p>`;
  const pager = html`<p class="pager">${
    filter.cursor
      ? html`<a href="/${filterQuery({ ...filter, cursor: undefined }, paused)}">First page</a>`
      : ''
  }${main.nextCursor ? html`<a href="/${filterQuery({ ...filter, cursor: main.nextCursor }, paused)}" rel="next">Next page</a>` : ''}</p>`;
  const resolvedPart = recentlyResolved?.items.length
    ? html`<h2>Recently resolved</h2>${table(recentlyResolved.items, 'The newest resolved incidents.', options.now)}
<p><a href="/${filterQuery({ ...filter, status: 'resolved', cursor: undefined }, paused)}">All resolved incidents</a></p>`
    : '';
  return page(
    {
      ...options,
      title: 'Incidents',
      current: 'incidents',
      refreshSeconds: paused ? undefined : options.refreshSeconds,
    },
    html`<h1>Incidents</h1><p class="muted">${refresh}</p>${filterForm(filter, paused)}${mainPart}${pager}${resolvedPart}`,
  );
}
