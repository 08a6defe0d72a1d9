/**
 * The console's page frame: the header strip (queue depth, paced channels, preview, Redis and Alertmanager)
 * and navigation on every page. Built with hono/html, which escapes every interpolated value: labels,
 * names and reasons are data, never markup. No script anywhere (CSP default-src 'none').
 */
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { formatElapsed } from '../../domain/duration.js';
import type { RelayStatus } from '../status.js';

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export const STYLESHEET_PATH = '/console.css';

/** `2026-11-27 21:40:05 UTC`: on-call people compare it with Slack and Grafana, which both show the second. */
export function utc(ms: number | string | undefined): string {
  if (ms === undefined) return '';
  const date = new Date(ms);
  return Number.isNaN(date.getTime())
    ? 'unknown time'
    : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** `12 min ago` / `in 4 min`, beside a UTC time. */
export function relative(ms: number | string | undefined, now: number): string {
  if (ms === undefined) return '';
  const at = typeof ms === 'number' ? ms : Date.parse(ms);
  if (Number.isNaN(at)) return '';
  return at <= now ? `${formatElapsed(now - at)} ago` : `in ${formatElapsed(at - now)}`;
}

export function time(ms: number | string | undefined, now: number): Html {
  if (ms === undefined) return html``;
  const iso = new Date(ms);
  if (Number.isNaN(iso.getTime())) return html`unknown time`;
  return html`<time datetime="${iso.toISOString()}">${utc(ms)}</time> <span class="muted">(${relative(ms, now)})</span>`;
}

/** The CSS class of a severity; unknown severities look like warnings, as the routes treat them. */
export function severityClass(severity: string): string {
  return ['critical', 'warning', 'info'].includes(severity) ? `sev-${severity}` : 'sev-other';
}

/** Severity as a badge with its word, so colour is never the only signal. */
export function severityBadge(severity: string): Html {
  return html`<span class="badge ${severityClass(severity)}">${severity}</span>`;
}

function statusStrip(status: RelayStatus, now: number): Html {
  const item = (label: string, value: Html | string, ok: boolean) =>
    html`<li class="${ok ? 'ok' : 'bad'}"><span class="label">${label}</span> ${value}</li>`;
  const paced = status.paced;
  const pacedText =
    paced === undefined
      ? 'unknown'
      : paced.length === 0
        ? 'none'
        : paced
            .map(
              (p) =>
                `${p.channel} (${p.waiting} waiting${p.blockedUntil ? `, 429 until ${utc(p.blockedUntil)}` : ''})`,
            )
            .join(', ');
  const previews = Object.entries(status.preview)
    .filter(([, on]) => on)
    .map(([kind]) => kind);
  return html`<ul class="strip" aria-label="Relay status">
${item('Queue depth', status.queueDepth === undefined ? 'unknown' : String(status.queueDepth), status.queueDepth !== undefined)}
${item('Paced channels', pacedText, paced !== undefined)}
${item('Preview mode', previews.length ? `on for ${previews.join(', ')}` : 'off', previews.length === 0)}
${item('Redis', status.redis.ok ? 'reachable' : `unreachable: ${status.redis.detail ?? ''}`, status.redis.ok)}
${
  status.alertmanagers.length === 0
    ? item('Alertmanager', 'not configured (ALERTMANAGER_URL)', true)
    : status.alertmanagers.map((a) =>
        item('Alertmanager', html`${a.url} ${a.ok ? 'reachable' : `unreachable: ${a.detail ?? ''}`}`, a.ok),
      )
}
<li class="muted">as of ${utc(now)}</li>
</ul>`;
}

export interface PageOptions {
  title: string;
  status: RelayStatus;
  now: number;
  /** Seconds; only the incident list refreshes itself (a form being filled in must not be wiped). */
  refreshSeconds?: number;
  current?: 'incidents' | 'dead-letters';
}

export function page(options: PageOptions, body: Html): Html {
  const nav = (href: string, label: string, key: PageOptions['current']) =>
    html`<a href="${href}"${options.current === key ? raw(' aria-current="page"') : ''}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${options.refreshSeconds ? html`<meta http-equiv="refresh" content="${String(options.refreshSeconds)}">` : ''}
<title>${options.title} · cold-chain relay</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<header>
<nav aria-label="Console">
<span class="brand">Cold-chain relay</span>
${nav('/', 'Incidents', 'incidents')}
${nav('/dead-letters', 'Dead letters', 'dead-letters')}
<a href="/admin/queues">Queues</a>
</nav>
${statusStrip(options.status, options.now)}
</header>
<main>
${body}
</main>
</body>
</html>`;
}

/** The page for a refused request: 400 (bad filter or form), 403 (bad CSRF token), 404 (unknown incident). */
export function problemPage(
  options: Omit<PageOptions, 'refreshSeconds'>,
  heading: string,
  message: string,
): Html {
  return page(
    options,
    html`<h1>${heading}</h1><p class="problem" role="alert">${message}</p><p>Nothing was changed. <a href="/">Back to the incidents</a>.</p>`,
  );
}
