/** `/dead-letters`: deliveries that failed for good, with their reason, and a Retry button for each. */
import { html } from 'hono/html';
import type { DeadLetter } from '../../enqueue/dead-letters.js';
import { type Html, type PageOptions, page, time } from './layout.js';

export const RETRY_NOTICES = {
  retried: 'Retried: the delivery is back in its queue and reconciles with the incident as it is now.',
  missing: 'That dead letter is no longer there (already retried, or removed): nothing changed.',
} as const;
export type RetryNotice = keyof typeof RETRY_NOTICES;

/** The form action of one dead letter's Retry button (the CSRF token is bound to it). */
export const retryPath = (letter: Pick<DeadLetter, 'name'>) => `/dead-letters/${letter.name}/retry`;

export function deadLettersPage(
  options: Omit<PageOptions, 'title' | 'current'>,
  letters: readonly DeadLetter[],
  tokenOf: (path: string) => string,
  notice?: RetryNotice,
): Html {
  const now = options.now;
  const body = letters.length
    ? html`<table>
<thead><tr><th scope="col">Dead letter</th><th scope="col">Failed</th><th scope="col">Incident</th><th scope="col">Destination</th><th scope="col">Reason</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${letters.map(
        (l) => html`<tr>
<td><code>${l.name}</code><br><span class="muted">after ${String(l.attempts)} attempt(s)</span></td>
<td>${time(l.failedAt, now)}</td>
<td><a href="/incidents/${l.incidentId}">${l.alertname ?? 'expired incident'}</a><br><code>${l.incidentId}</code></td>
<td>${l.kind} ${l.target}</td>
<td>${l.reason}</td>
<td><form method="post" action="${retryPath(l)}"><input type="hidden" name="csrf" value="${tokenOf(retryPath(l))}"><button type="submit" aria-label="Retry ${l.name}">Retry</button></form></td>
</tr>`,
      )}</tbody>
</table>`
    : html`<p class="notice">No dead letters: every delivery reached an outcome.</p>`;
  return page(
    { ...options, title: 'Dead letters', current: 'dead-letters' },
    html`<h1>Dead letters</h1>
${notice ? html`<p class="notice" role="status">${RETRY_NOTICES[notice]}</p>` : ''}
<p class="muted">Deliveries that failed after every attempt, or at once for a permanent error. Retry does what <code>npm run dlq -- retry</code> does.</p>
${body}`,
  );
}
