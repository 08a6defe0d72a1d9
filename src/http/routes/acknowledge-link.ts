/**
 * GET and POST /ack/:token: the acknowledge link in emails. GET only shows a confirmation page (mail
 * scanners that prefetch links must acknowledge nothing); POST acknowledges. The pages are built with
 * hono/html, which escapes every interpolated value.
 */
import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { acknowledgeIncident } from '../../ack/acknowledge.js';
import { verifyAckToken } from '../../channels/email/ack-link.js';
import { titleOf } from '../../render/describe.js';
import { type AppEnv, requestLog } from '../app.js';
import { ApiError } from '../errors.js';
import type { RouteServices } from './services.js';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

function page(title: string, body: Html): Html {
  return html`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head>
<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 560px; margin: 40px auto; padding: 0 16px;">${body}</body></html>`;
}

const unknownIncident = () =>
  page('Unknown incident', html`<h2>This incident is no longer known to the relay.</h2>`);
const alreadyResolved = (title: string) =>
  page('Resolved', html`<h2>${title}</h2><p>This incident is already resolved.</p>`);
const refused = (reason: string) =>
  page(
    'Link not valid',
    html`<h2>This acknowledge link is not valid</h2><p>${reason === 'expired' ? 'It has expired.' : 'It was not issued by this relay.'} Acknowledge from Slack, or ask the relay operator.</p>`,
  );

export function register(app: Hono<AppEnv>, deps: RouteServices): void {
  const now = deps.now ?? Date.now;
  const ackClaims = (token: string) => {
    if (!deps.ackSecret)
      throw new ApiError('not_found', 'acknowledge links are not configured (RELAY_ACK_SECRET)');
    return verifyAckToken(deps.ackSecret, token, Math.floor(now() / 1000));
  };

  app.get('/ack/:token', async (c) => {
    const result = ackClaims(c.req.param('token'));
    if (!result.ok) return c.html(refused(result.reason), result.reason === 'expired' ? 410 : 403);
    const snapshot = await deps.alerts.loadIncident(result.claims.groupId, result.claims.incidentId);
    if (!snapshot) return c.html(unknownIncident(), 404);
    const flags = await deps.deliveries.loadFlags(snapshot.groupId, snapshot.incidentId);
    const title = titleOf(snapshot);
    if (snapshot.status === 'resolved') return c.html(alreadyResolved(title));
    const firing = snapshot.alerts.filter((a) => a.status === 'firing').length;
    const already = flags.acknowledged ? html`<p>Already acknowledged by ${flags.acknowledged.by}.</p>` : '';
    return c.html(
      page(
        'Acknowledge incident',
        html`<h2>${title}</h2><p>${firing} alert(s) firing, severity ${snapshot.severity}.</p>${already}
<form method="post"><button type="submit" style="font-size: 16px; padding: 8px 16px;">Acknowledge: I have it</button></form>
<p style="color: #616061;">Acknowledging stops the reminders for this incident on every destination. New alerts in the group resume them.</p>`,
      ),
    );
  });

  app.post('/ack/:token', async (c) => {
    const result = ackClaims(c.req.param('token'));
    if (!result.ok) return c.html(refused(result.reason), result.reason === 'expired' ? 410 : 403);
    const { claims } = result;
    const outcome = await acknowledgeIncident(claims, claims.who, deps, now());
    requestLog(c).info(
      { incidentId: claims.incidentId, status: outcome.status },
      'acknowledge from email link',
    );
    if (outcome.status === 'not_found') return c.html(unknownIncident(), 404);
    const title = titleOf(outcome.snapshot);
    if (outcome.status === 'resolved') return c.html(alreadyResolved(title));
    return c.html(
      page(
        'Acknowledged',
        html`<h2>${title}</h2><p>Acknowledged by ${outcome.flags.acknowledged?.by ?? claims.who}. Reminders stop.</p>`,
      ),
    );
  });
}
