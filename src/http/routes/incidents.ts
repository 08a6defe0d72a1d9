/** GET /api/incidents/:id: one incident as the relay knows it, its deliveries and its timeline (bearer token). */
import type { Hono } from 'hono';
import { buildTimeline } from '../../ack/timeline.js';
import { incidentDestinations } from '../../domain/destinations.js';
import { titleOf } from '../../render/describe.js';
import type { AppEnv } from '../app.js';
import { isAuthorized } from '../auth.js';
import { ApiError } from '../errors.js';
import type { RouteServices } from './services.js';

export function register(app: Hono<AppEnv>, deps: RouteServices): void {
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
    const targets = incidentDestinations(snapshot, flags);
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
