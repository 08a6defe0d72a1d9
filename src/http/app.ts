/**
 * createApp(deps): every HTTP endpoint of the relay (DESIGN.md §Interface). No I/O happens here except
 * through the deps, so tests build an app over a real Redis with their own key prefix.
 */
import { type Context, Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Counter } from 'prom-client';
import type { Config } from '../config/config.js';
import { hasFiringAlert } from '../dedupe/merge.js';
import { groupIdOf } from '../domain/model.js';
import { ContentionError, type IngestDeps, ingestWebhook } from '../ingest/ingest.js';
import type { Logger } from '../observability/logger.js';
import { boundedLabel, HTTP_STATUS_LABELS, type Metrics, SEVERITY_LABELS } from '../observability/metrics.js';
import { parseWebhook, type WebhookAlert } from '../receive/schema.js';
import { ReplicationError } from '../store/replicas.js';
import { isAuthorized } from './auth.js';
import { ApiError, errorResponse } from './errors.js';
import { ClientAbortedError, checkDeclaredLength, readBody } from './read-body.js';

export interface AppDeps extends IngestDeps {
  config: Pick<Config, 'role' | 'webhookToken' | 'maxBodyBytes'>;
  logger: Logger;
  metrics: Metrics;
  /** Resolves when Redis answers and the queue is usable; rejects with the reason otherwise. */
  checkReady: () => Promise<void>;
  /** Refreshes gauges read from Redis (queue depth) before a scrape. */
  refreshGauges?: () => Promise<void>;
  /** Extra routes of later stages (Slack interactions, ack, incidents API), mounted for api/all roles. */
  mount?: (app: Hono<AppEnv>) => void;
}

export type AppEnv = { Variables: { requestId: string; logger: Logger; log?: Logger } };

/**
 * The request's logger, bound to its request id. Made on first use: most requests (accepted webhooks at the
 * production level) never log, and a pino child per request was measurable on the webhook path.
 */
export function requestLog(c: Context<AppEnv>): Logger {
  let log = c.get('log');
  if (!log) {
    log = c.get('logger').child({ requestId: c.get('requestId') });
    c.set('log', log);
  }
  return log;
}

const JSON_TYPE = /^application\/([\w.+-]*\+)?json\s*(;|$)/i;

type CounterChild = ReturnType<Counter['labels']>;

/**
 * A labelled counter's children, bound once per label set: `inc(labels)` hashes the labels on every call.
 * Only for labels from bounded sets (boundedLabel, route paths).
 */
function boundCounter<L extends string>(counter: Counter<L>): (...values: string[]) => CounterChild {
  const bound = new Map<string, CounterChild>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = bound.get(key);
    if (!child) {
      child = counter.labels(...values);
      bound.set(key, child);
    }
    return child;
  };
}

/**
 * Counts received alerts by status and severity. A group's alerts mostly share both, so a run of alerts with
 * the same pair is counted in one increment.
 */
function countAlerts(
  alertsReceived: (status: string, severity: string) => CounterChild,
  alerts: readonly WebhookAlert[],
): void {
  let status = '';
  let severity = '';
  let run = 0;
  for (const alert of alerts) {
    const alertSeverity = boundedLabel(alert.labels.severity ?? 'none', SEVERITY_LABELS);
    if (run > 0 && (alert.status !== status || alertSeverity !== severity)) {
      alertsReceived(status, severity).inc(run);
      run = 0;
    }
    status = alert.status;
    severity = alertSeverity;
    run++;
  }
  if (run > 0) alertsReceived(status, severity).inc(run);
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { metrics, logger } = deps;
  const servesApi = deps.config.role !== 'worker';
  // Label order as declared in metrics.ts: route, status; status, severity.
  const httpRequests = boundCounter(metrics.httpRequests);
  const alertsReceived = boundCounter(metrics.alertsReceived);

  // Hono's requestId echoes a caller's X-Request-Id (up to 64 word characters) or makes a UUID, and sets the
  // response header before the handler builds its response: a header added to a finished response makes
  // Hono copy it into a stream-bodied Response, which the Node adapter can only write through its slow path.
  app.use(requestId({ limitLength: 64 }));
  app.use(async (c, next) => {
    c.set('logger', logger);
    await next();
    // A handler that returns its own Response object bypasses the prepared headers.
    if (!c.res.headers.has('X-Request-Id')) c.header('X-Request-Id', c.get('requestId'));
    httpRequests(
      c.req.routePath || 'unmatched',
      boundedLabel(String(c.res.status), HTTP_STATUS_LABELS),
    ).inc();
  });

  app.onError((error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error);
    requestLog(c).error({ err: error }, 'unhandled error');
    return errorResponse(c, new ApiError('internal', 'internal error; see the relay log for the request id'));
  });
  app.notFound((c) =>
    errorResponse(c, new ApiError('not_found', `no route for ${c.req.method} ${c.req.path}`)),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    try {
      await deps.checkReady();
      return c.json({ status: 'ready' });
    } catch (error) {
      return c.json({ status: 'not ready', reason: (error as Error).message }, 503);
    }
  });

  app.get('/metrics', async (c) => {
    await deps
      .refreshGauges?.()
      .catch((error: unknown) => requestLog(c).warn({ err: error }, 'could not refresh queue gauges'));
    return c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType });
  });

  if (!servesApi) return app;

  app.post('/webhook/alertmanager', async (c) => {
    const reject = (reason: string, error: ApiError): never => {
      metrics.requestsRejected.inc({ reason });
      requestLog(c).info({ reason, code: error.code }, 'webhook rejected');
      throw error;
    };
    if (!isAuthorized(deps.config.webhookToken, c.req.header('authorization'))) {
      reject('unauthorized', new ApiError('unauthorized', 'unauthorized'));
    }
    const contentType = c.req.header('content-type') ?? '';
    let body: Buffer;
    try {
      checkDeclaredLength(c, deps.config.maxBodyBytes);
      if (!JSON_TYPE.test(contentType)) {
        throw new ApiError(
          'unsupported_media_type',
          `content type must be application/json, got ${JSON.stringify(contentType.slice(0, 100))}`,
        );
      }
      body = await readBody(c, deps.config.maxBodyBytes);
    } catch (error) {
      if (error instanceof ApiError)
        reject(error.code === 'payload_too_large' ? 'too_large' : 'content_type', error);
      if (error instanceof ClientAbortedError) {
        // Nobody is left to read an answer; 499 (nginx's "client closed request") only labels the count.
        metrics.requestsRejected.inc({ reason: 'aborted' });
        requestLog(c).debug({ received: error.received }, 'client went away before its body was read');
        return c.body(null, 499 as 200);
      }
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (error) {
      reject('bad_json', new ApiError('bad_json', `body is not valid JSON: ${(error as Error).message}`));
    }
    const parsed = parseWebhook(json, deps.policy.ingest.max_alerts);
    if (!parsed.ok) {
      return reject(
        'schema',
        new ApiError('invalid_payload', 'payload is not an Alertmanager webhook (version 4)', parsed.issues),
      );
    }
    const { payload } = parsed;
    countAlerts(alertsReceived, payload.alerts);
    // A webhook without a firing alert cannot open an incident (see hasFiringAlert). For a group with no
    // incident it is answered 200 and ignored rather than 422: Alertmanager can send it (a resolve of a group
    // whose state expired, or that fired while the relay was not its receiver), and a 4xx would count as a
    // failed notification in Alertmanager. One extra Redis read, only for webhooks with no firing alert.
    if (!hasFiringAlert(payload)) {
      let stored: Awaited<ReturnType<typeof deps.store.loadGroup>>;
      try {
        stored = await deps.store.loadGroup(groupIdOf(payload.receiver, payload.groupKey));
      } catch (error) {
        metrics.requestsRejected.inc({ reason: 'unavailable' });
        requestLog(c).warn({ err: error }, 'webhook not stored; Alertmanager will retry');
        throw new ApiError('unavailable', 'not stored, retry later: Redis is unavailable or slow');
      }
      if (!stored.snapshot) {
        metrics.webhooksIgnored.inc({ reason: 'no_firing_alert' });
        requestLog(c).info(
          { alerts: payload.alerts.length, status: payload.status },
          'webhook ignored: no firing alert and no open incident',
        );
        return c.json({ status: 'ignored', reason: 'no_firing_alert' }, 200);
      }
    }
    const stopTimer = metrics.enqueueDuration.startTimer();
    try {
      const result = await ingestWebhook(payload, deps);
      stopTimer();
      if (result.duplicate) metrics.webhooksDeduplicated.inc();
      if (logger.isLevelEnabled('info'))
        requestLog(c).info(
          {
            incidentId: result.incidentId,
            status: result.status,
            duplicate: result.duplicate,
            jobs: result.jobs,
            alerts: payload.alerts.length,
          },
          result.duplicate ? 'webhook duplicate' : 'webhook accepted',
        );
      return c.json(
        { status: result.duplicate ? 'duplicate' : 'accepted', incidentId: result.incidentId },
        200,
      );
    } catch (error) {
      // 'replicas': stored on the master, but not confirmed on REDIS_MIN_REPLICAS replicas.
      metrics.requestsRejected.inc({
        reason: error instanceof ReplicationError ? 'replicas' : 'unavailable',
      });
      const detail =
        error instanceof ContentionError || error instanceof ReplicationError
          ? error.message
          : 'Redis is unavailable or slow';
      requestLog(c).warn({ err: error }, 'webhook not stored; Alertmanager will retry');
      throw new ApiError('unavailable', `not stored, retry later: ${detail}`);
    }
  });

  deps.mount?.(app);
  return app;
}
