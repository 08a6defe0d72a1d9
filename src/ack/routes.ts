/**
 * The people-facing endpoints: Slack interactions (buttons), the acknowledge link in emails, and the
 * incident API with its timeline. Mounted on the app for the api and all roles.
 */
import type { Hono } from 'hono';
import type { Redis } from 'ioredis';
import type { DeliveryQueuePort } from '../enqueue/delivery-queue.js';
import type { AppEnv } from '../http/app.js';
import { isAuthorized } from '../http/auth.js';
import { ApiError } from '../http/errors.js';
import { readBody } from '../http/read-body.js';
import type { Metrics } from '../observability/metrics.js';
import { titleOf } from '../render/describe.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import { acknowledgeIncident, type IncidentRef } from './acknowledge.js';
import type { InteractionQueue } from '../channels/slack/interactions.js';
import { verifyAckToken, verifySlackSignature } from '../channels/slack/signatures.js';
import { buildTimeline } from './timeline.js';

export interface InteractionRouteDeps {
  alerts: AlertStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueuePort;
  interactions: InteractionQueue;
  redis: Redis;
  prefix: string;
  metrics: Metrics;
  webhookToken: string | undefined;
  signingSecret: string | undefined;
  /** Seconds; a silence button is honoured only for a configured duration. */
  silenceDurations: number[];
  ackSecret: string | undefined;
  maxBodyBytes: number;
  now?: () => number;
}

/** Button values carry the incident as `groupId:incidentId`. */
export function incidentRefValue(ref: IncidentRef): string {
  return `${ref.groupId}:${ref.incidentId}`;
}

function parseRef(value: unknown): IncidentRef | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^([0-9a-f]{16}):([0-9a-f]{16})$/.exec(value);
  return match ? { groupId: match[1]!, incidentId: match[2]! } : undefined;
}

interface BlockActionsPayload {
  type: string;
  user?: { id?: string; username?: string; name?: string };
  actions?: { action_id?: string; value?: string; action_ts?: string }[];
  response_url?: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head>
<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 560px; margin: 40px auto; padding: 0 16px;">${body}</body></html>`;
}

export function mountInteractionRoutes(app: Hono<AppEnv>, deps: InteractionRouteDeps): void {
  const now = deps.now ?? Date.now;

  app.post('/slack/interactions', async (c) => {
    if (!deps.signingSecret)
      throw new ApiError('not_found', 'Slack interactivity is not configured (SLACK_SIGNING_SECRET)');
    // Verified before anything is parsed or changed.
    const raw = await readBody(c, deps.maxBodyBytes);
    const verdict = verifySlackSignature(
      deps.signingSecret,
      { timestamp: c.req.header('x-slack-request-timestamp'), signature: c.req.header('x-slack-signature') },
      raw,
      Math.floor(now() / 1000),
    );
    if (!verdict.ok) {
      deps.metrics.requestsRejected.inc({ reason: 'slack_signature' });
      c.get('log').info({ reason: verdict.reason }, 'Slack interaction refused');
      throw new ApiError('unauthorized', 'unauthorized');
    }
    let payload: BlockActionsPayload;
    try {
      payload = JSON.parse(
        new URLSearchParams(raw.toString('utf8')).get('payload') ?? '',
      ) as BlockActionsPayload;
    } catch {
      throw new ApiError('bad_json', 'the interaction payload is not JSON');
    }
    const action = payload.actions?.[0];
    const ref = parseRef(action?.value);
    if (payload.type !== 'block_actions' || !action?.action_id || !ref) return c.body(null, 200); // link buttons, other events
    const user = payload.user ?? {};
    const by = `@${user.username ?? user.name ?? user.id ?? 'someone'}`;
    // Slack retries a request it thinks timed out; the same click must not act twice.
    const once = await deps.redis.set(
      `${deps.prefix}:interaction:${user.id ?? ''}:${action.action_id}:${action.action_ts ?? ''}:${ref.incidentId}`,
      '1',
      'EX',
      600,
      'NX',
    );
    if (once !== 'OK') return c.body(null, 200);
    const log = c.get('log').child({ incidentId: ref.incidentId, action: action.action_id, by });
    if (action.action_id === 'relay_ack') {
      const result = await acknowledgeIncident(ref, by, deps, now());
      log.info({ status: result.status }, 'acknowledge from Slack');
      if (result.status === 'not_found' || result.status === 'resolved') {
        return c.json({
          response_type: 'ephemeral',
          replace_original: false,
          text: `This incident is ${result.status === 'resolved' ? 'already resolved' : 'no longer known to the relay'}.`,
        });
      }
      return c.body(null, 200);
    }
    const seconds = Number(/^relay_silence_(\d+)s$/.exec(action.action_id)?.[1]);
    if (deps.silenceDurations.includes(seconds)) {
      const durationMs = seconds * 1000;
      // Alertmanager may take longer than Slack's 3-second window: the worker does it and answers via response_url.
      await deps.interactions.enqueueSilence({ ...ref, durationMs, by, responseUrl: payload.response_url });
      log.info({ durationMs }, 'silence requested from Slack');
      return c.body(null, 200);
    }
    return c.body(null, 200);
  });

  const ackClaims = (token: string) => {
    if (!deps.ackSecret)
      throw new ApiError('not_found', 'acknowledge links are not configured (RELAY_ACK_SECRET)');
    return verifyAckToken(deps.ackSecret, token, Math.floor(now() / 1000));
  };
  const refused = (reason: string) =>
    page(
      'Link not valid',
      `<h2>This acknowledge link is not valid</h2><p>${reason === 'expired' ? 'It has expired.' : 'It was not issued by this relay.'} Acknowledge from Slack, or ask the relay operator.</p>`,
    );

  // GET only shows a confirmation page: mail scanners that prefetch links must acknowledge nothing.
  app.get('/ack/:token', async (c) => {
    const result = ackClaims(c.req.param('token'));
    if (!result.ok) return c.html(refused(result.reason), result.reason === 'expired' ? 410 : 403);
    const snapshot = await deps.alerts.loadIncident(result.claims.groupId, result.claims.incidentId);
    if (!snapshot)
      return c.html(page('Unknown incident', '<h2>This incident is no longer known to the relay.</h2>'), 404);
    const flags = await deps.deliveries.loadFlags(snapshot.groupId, snapshot.incidentId);
    const title = escapeHtml(titleOf(snapshot));
    if (snapshot.status === 'resolved')
      return c.html(page('Resolved', `<h2>${title}</h2><p>This incident is already resolved.</p>`));
    const already = flags.acknowledged
      ? `<p>Already acknowledged by ${escapeHtml(flags.acknowledged.by)}.</p>`
      : '';
    return c.html(
      page(
        'Acknowledge incident',
        `<h2>${title}</h2><p>${snapshot.alerts.filter((a) => a.status === 'firing').length} alert(s) firing, severity ${escapeHtml(snapshot.severity)}.</p>${already}
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
    c.get('log').info(
      { incidentId: claims.incidentId, status: outcome.status },
      'acknowledge from email link',
    );
    if (outcome.status === 'not_found')
      return c.html(page('Unknown incident', '<h2>This incident is no longer known to the relay.</h2>'), 404);
    const title = escapeHtml(titleOf(outcome.snapshot));
    if (outcome.status === 'resolved')
      return c.html(page('Resolved', `<h2>${title}</h2><p>This incident is already resolved.</p>`));
    return c.html(
      page(
        'Acknowledged',
        `<h2>${title}</h2><p>Acknowledged by ${escapeHtml(outcome.flags.acknowledged?.by ?? claims.who)}. Reminders stop.</p>`,
      ),
    );
  });

  app.get('/api/incidents/:id', async (c) => {
    if (!isAuthorized(deps.webhookToken, c.req.header('authorization')))
      throw new ApiError('unauthorized', 'unauthorized');
    const incidentId = c.req.param('id');
    if (!/^[0-9a-f]{16}$/.test(incidentId))
      throw new ApiError('not_found', 'incident ids are 16 hex characters');
    const groupId = await deps.alerts.findGroupOfIncident(incidentId);
    const snapshot = groupId ? await deps.alerts.loadIncident(groupId, incidentId) : undefined;
    if (!snapshot)
      throw new ApiError('not_found', `no incident ${incidentId} (unknown, or expired after resolve)`);
    const flags = await deps.deliveries.loadFlags(snapshot.groupId, incidentId);
    const targets = [...snapshot.deliveries, ...(flags.extraDeliveries ?? [])];
    const logs = await Promise.all(
      targets.map((d) => deps.deliveries.loadLog(snapshot.groupId, incidentId, d.id)),
    );
    return c.json({
      incident: {
        id: incidentId,
        title: titleOf(snapshot),
        status: snapshot.status,
        severity: snapshot.severity,
        receiver: snapshot.receiver,
        groupKey: snapshot.groupKey,
        groupLabels: snapshot.groupLabels,
        startedAt: new Date(snapshot.startedAt).toISOString(),
        resolvedAt: snapshot.resolvedAt ? new Date(snapshot.resolvedAt).toISOString() : null,
        truncatedAlerts: snapshot.truncatedAlerts,
        alerts: snapshot.alerts.map((a) => ({
          fingerprint: a.fingerprint,
          status: a.status,
          startsAt: a.startsAt,
          labels: a.labels,
        })),
      },
      acknowledged: flags.acknowledged
        ? { by: flags.acknowledged.by, at: new Date(flags.acknowledged.at).toISOString() }
        : null,
      silences: (flags.silences ?? []).map((s) => ({ ...s, until: new Date(s.until).toISOString() })),
      escalation: flags.escalation ?? null,
      deliveries: targets.map((d, i) => {
        const log = logs[i]!;
        return {
          kind: d.kind,
          target: d.target,
          route: d.route,
          repeatSeconds: d.repeatSeconds,
          slack: log.root?.ts ? { channel: log.root.channel, ts: log.root.ts } : undefined,
          email: log.root?.messageId
            ? { firstMessageId: log.root.messageId, subject: log.root.subject }
            : undefined,
          reminders: log.reminders,
          lastOutcome: log.lastOutcome ?? null,
        };
      }),
      timeline: buildTimeline(snapshot, flags, targets, logs),
    });
  });
}
