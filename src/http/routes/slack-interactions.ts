/**
 * POST /slack/interactions: Slack's buttons (Acknowledge, Silence). Only requests signed with
 * SLACK_SIGNING_SECRET are read; a silence is queued (Alertmanager may take longer than Slack's 3 seconds).
 */
import type { Hono } from 'hono';
import { acknowledgeIncident } from '../../ack/acknowledge.js';
import { parseIncidentRef } from '../../channels/slack/actions.js';
import { verifySlackSignature } from '../../channels/slack/signatures.js';
import { type AppEnv, requestLog } from '../app.js';
import { ApiError } from '../errors.js';
import { readBody } from '../read-body.js';
import type { RouteServices } from './services.js';

interface BlockActionsPayload {
  type: string;
  user?: { id?: string; username?: string; name?: string };
  actions?: { action_id?: string; value?: string; action_ts?: string }[];
  response_url?: string;
}

export function register(app: Hono<AppEnv>, deps: RouteServices): void {
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
      requestLog(c).info({ reason: verdict.reason }, 'Slack interaction refused');
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
    const ref = parseIncidentRef(action?.value);
    if (payload.type !== 'block_actions' || !action?.action_id || !ref) return c.body(null, 200); // link buttons, other events
    const user = payload.user ?? {};
    const by = `@${user.username ?? user.name ?? user.id ?? 'someone'}`;
    // Slack retries a request it thinks timed out; the same click must not act twice.
    const first = await deps.interactions.firstClick({
      userId: user.id ?? '',
      actionId: action.action_id,
      actionTs: action.action_ts ?? '',
      incidentId: ref.incidentId,
    });
    if (!first) return c.body(null, 200);
    const log = requestLog(c).child({ incidentId: ref.incidentId, action: action.action_id, by });
    if (action.action_id === 'relay_ack') {
      const result = await acknowledgeIncident(ref, by, deps, now(), 'Slack');
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
}
