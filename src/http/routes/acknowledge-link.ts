/**
 * GET and POST /ack/:token: the acknowledge link in emails. GET only shows a confirmation page (mail
 * scanners that prefetch links must acknowledge nothing); POST acknowledges. The pages are built with
 * hono/html, which escapes every interpolated value.
 */
import type { Hono, HonoRequest } from 'hono';
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

const MAX_NAME = 100;

const badName = (reason: string) =>
  page('Name not valid', html`<h2>Nothing was acknowledged</h2><p>${reason} Go back and correct it.</p>`);

/**
 * The acknowledger's name from the form: data shown in messages and the timeline (escaped there), so it is
 * bounded and free of control characters; absent or blank means "not given".
 */
async function nameOf(
  request: HonoRequest,
): Promise<{ ok: true; value: string | undefined } | { ok: false; reason: string }> {
  const type = request.header('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data'))
    return { ok: true, value: undefined };
  let raw: unknown;
  try {
    raw = (await request.parseBody()).name;
  } catch {
    return { ok: false, reason: 'The form could not be read.' };
  }
  if (raw === undefined) return { ok: true, value: undefined };
  if (typeof raw !== 'string') return { ok: false, reason: 'The name must be text.' };
  const value = raw.trim();
  if (!value) return { ok: true, value: undefined };
  if (value.length > MAX_NAME)
    return { ok: false, reason: `The name is longer than ${MAX_NAME} characters.` };
  // Line breaks and other control characters have no place in a name (a timeline line, a Slack reply).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value))
    return { ok: false, reason: 'The name contains control characters (line breaks, tabs).' };
  return { ok: true, value };
}

export function register(app: Hono<AppEnv>, deps: RouteServices): void {
  const now = deps.now ?? Date.now;
  /** A schedule member's name when the link went to exactly their address. */
  const personOf = (who: string) => (who.includes(',') ? undefined : deps.personOf?.(who.trim()));
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
    // A link sent to one person's address (a schedule member) names them; a list's link asks.
    const prefill = personOf(result.claims.who) ?? '';
    return c.html(
      page(
        'Acknowledge incident',
        html`<h2>${title}</h2><p>${firing} alert(s) firing, severity ${snapshot.severity}.</p>${already}
<form method="post"><p><label for="name">Who is acknowledging?</label><br>
<input id="name" name="name" required maxlength="${MAX_NAME}" autocomplete="name" value="${prefill}" style="font-size: 16px; padding: 6px; width: 100%; max-width: 360px;"></p>
<button type="submit" style="font-size: 16px; padding: 8px 16px;">Acknowledge: I have it</button></form>
<p style="color: #616061;">Acknowledging stops the reminders for this incident on every destination. New alerts in the group resume them.</p>`,
      ),
    );
  });

  app.post('/ack/:token', async (c) => {
    const result = ackClaims(c.req.param('token'));
    if (!result.ok) return c.html(refused(result.reason), result.reason === 'expired' ? 410 : 403);
    const { claims } = result;
    const name = await nameOf(c.req);
    if (!name.ok) return c.html(badName(name.reason), 400);
    // Without a name (an older page, a script) the address the link was sent to is credited, as before.
    const by = name.value ?? personOf(claims.who) ?? claims.who;
    const outcome = await acknowledgeIncident(claims, by, deps, now(), 'email link');
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
