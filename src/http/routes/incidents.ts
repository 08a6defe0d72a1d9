/**
 * The incidents API (bearer token): GET /api/incidents, the list (filters, newest first, cursor), and
 * GET /api/incidents/:id, one incident as the relay knows it, its deliveries and its timeline.
 */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { buildTimeline } from '../../ack/timeline.js';
import { InvalidCursorError, listIncidents, loadIncidentRecord } from '../../incidents/list-incidents.js';
import { buildListItem } from '../../incidents/list-item.js';
import type { IncidentListFilter } from '../../incidents/types.js';
import { titleOf } from '../../render/describe.js';
import type { AppEnv } from '../app.js';
import { isAuthorized } from '../auth.js';
import { ApiError } from '../errors.js';
import type { RouteServices } from './services.js';

const text = (max: number) => z.string().min(1, 'must not be empty').max(max, `at most ${max} characters`);

/** Unknown parameters are refused: a misspelt filter must not silently list everything. */
const listQuerySchema = z.strictObject({
  status: z.enum(['firing', 'resolved', 'acknowledged', 'silenced']).optional(),
  severity: text(64).optional(),
  vehicle: text(128).optional(),
  shipment: text(128).optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number from 1 to 200')
    .transform(Number)
    .pipe(z.number().min(1, 'must be at least 1').max(200, 'must be at most 200'))
    .default(50),
  cursor: text(400).optional(),
});

function parseListQuery(c: Context<AppEnv>): IncidentListFilter {
  const all = c.req.queries();
  const repeated = Object.entries(all).filter(([, values]) => values.length > 1);
  if (repeated.length)
    throw new ApiError(
      'invalid_query',
      'invalid query',
      repeated.map(([name]) => ({ path: name, message: 'given more than once' })),
    );
  const parsed = listQuerySchema.safeParse(c.req.query());
  if (!parsed.success)
    throw new ApiError(
      'invalid_query',
      'invalid query',
      parsed.error.issues.slice(0, 20).map((i) =>
        i.code === 'unrecognized_keys'
          ? {
              path: i.keys.join(','),
              message: 'unknown parameter; known: status, severity, vehicle, shipment, limit, cursor',
            }
          : { path: i.path.join('.') || '(query)', message: i.message },
      ),
    );
  return parsed.data;
}

export function register(app: Hono<AppEnv>, deps: RouteServices): void {
  const authorize = (c: Context<AppEnv>) => {
    if (!isAuthorized(deps.webhookToken, c.req.header('authorization')))
      throw new ApiError('unauthorized', 'unauthorized');
  };

  app.get('/api/incidents', async (c) => {
    authorize(c);
    const filter = parseListQuery(c);
    try {
      return c.json(await listIncidents(filter, { ...deps, ...(deps.now ? { now: deps.now } : {}) }));
    } catch (error) {
      if (error instanceof InvalidCursorError)
        throw new ApiError('invalid_query', 'invalid query', [{ path: 'cursor', message: error.message }]);
      throw error;
    }
  });

  app.get('/api/incidents/:id', async (c) => {
    authorize(c);
    const incidentId = c.req.param('id');
    if (!/^[0-9a-f]{16}$/.test(incidentId))
      throw new ApiError('not_found', 'incident ids are 16 hex characters');
    const groupId = await deps.alerts.findGroupOfIncident(incidentId);
    const record = groupId ? await loadIncidentRecord({ groupId, incidentId }, deps) : undefined;
    if (!record)
      throw new ApiError('not_found', `no incident ${incidentId} (unknown, or expired after resolve)`);
    const now = (deps.now ?? Date.now)();
    const { snapshot, flags } = record;
    const targets = record.deliveries.map((d) => d.target);
    const logs = record.deliveries.map((d) => d.log);
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
      /** The incident as GET /api/incidents lists it: status, cold chain, next reminder, last outcomes. */
      summary: buildListItem(record, now),
      timeline: buildTimeline(snapshot, flags, targets, logs, { now }),
    });
  });
}
