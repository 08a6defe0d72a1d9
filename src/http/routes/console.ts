/**
 * The operator console (issue 13): server-rendered pages that work without JavaScript, and bull-board at
 * /admin/queues. Every page and /api route needs the webhook token (Bearer, or the basic-auth password so a
 * browser's login prompt works); the forms (acknowledge, silence, retry) also need a CSRF token bound to
 * their action (console/csrf.ts). Acknowledge and Silence do exactly what Slack's buttons do: the same
 * acknowledgeIncident, the same silence queue and worker.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Queue } from 'bullmq';
import type { Context, Hono } from 'hono';
import { acknowledgeIncident } from '../../ack/acknowledge.js';
import type { InteractionQueue } from '../../channels/slack/interactions.js';
import { signFormToken, verifyFormToken } from '../../console/csrf.js';
import { parseConsoleFilter } from '../../console/filter.js';
import { INCIDENT_ID, loadIncidentDetail } from '../../console/incident-detail.js';
import type { SilenceRequest } from '../../console/silence-requests.js';
import type { RelayStatus } from '../../console/status.js';
import { CONSOLE_CSS } from '../../console/stylesheet.js';
import { deadLettersPage, type RetryNotice } from '../../console/views/dead-letters.js';
import { incidentPage, NOTICES, type Notice } from '../../console/views/incident.js';
import { incidentsPage } from '../../console/views/incidents.js';
import { type Html, problemPage, STYLESHEET_PATH } from '../../console/views/layout.js';
import { listDeadLetters, retryDeadLetters } from '../../enqueue/dead-letters.js';
import type { BullDeliveryQueue } from '../../enqueue/delivery-queue.js';
import { InvalidCursorError } from '../../incidents/list-incidents.js';
import type { IncidentListFilter, IncidentListPage } from '../../incidents/types.js';
import type { AlertStore } from '../../store/alert-store.js';
import type { DeliveryStore } from '../../store/delivery-store.js';
import { type AppEnv, requestLog } from '../app.js';
import { type OperatorAuth, requireOperator } from '../auth.js';
import { readBody } from '../read-body.js';
import { securityHeaders } from '../security-headers.js';

export interface ConsoleServices {
  alerts: AlertStore;
  deliveries: DeliveryStore;
  queue: BullDeliveryQueue;
  interactions: InteractionQueue;
  /** Every BullMQ queue of the relay, for bull-board. */
  boardQueues: readonly Queue[];
  listIncidents(filter: IncidentListFilter): Promise<IncidentListPage>;
  status(): Promise<RelayStatus>;
  /** Silence requests of an incident (pending, and what became of them). */
  silenceRequests(incidentId: string): Promise<SilenceRequest[]>;
  auth: OperatorAuth;
  /** The CSRF key (console/csrf.ts formSecretOf). */
  formSecret: string;
  /** Seconds (policy silence_durations). */
  silenceDurations: readonly number[];
  alertmanagerUrls: readonly string[];
  maxBodyBytes: number;
  /** Seconds between refreshes of the incident list. */
  refreshSeconds?: number;
  now?: () => number;
}

/** The paths the console serves; the role rule (api and all) is createApp's `mount`. */
export const CONSOLE_PATHS = ['/', '/incidents/:id', '/dead-letters', '/admin/queues'] as const;

const NAME_MAX = 80;
/** Resolved incidents shown under the open ones on the list's first page. */
const RECENTLY_RESOLVED = 10;

class FormError extends Error {
  constructor(
    readonly status: 400 | 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

/** The POST body as form fields, within the body limit. */
async function formOf(c: Context, limit: number): Promise<URLSearchParams> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type))
    throw new FormError(400, 'the form must be sent as application/x-www-form-urlencoded');
  return new URLSearchParams((await readBody(c, limit)).toString('utf8'));
}

/** Who gets the credit: the name the form asked for, trimmed, one line, at most 80 characters. */
export function personOf(form: URLSearchParams): string {
  const name = (form.get('name') ?? '').replace(/\s+/g, ' ').trim();
  if (!name) throw new FormError(400, 'your name is required: it is who the action is credited to');
  if (name.length > NAME_MAX) throw new FormError(400, `your name is longer than ${NAME_MAX} characters`);
  // Control characters would reach Slack, mail and Alertmanager's createdBy.
  if (/\p{Cc}/u.test(name)) throw new FormError(400, 'your name contains control characters');
  return name;
}

export function register(app: Hono<AppEnv>, deps: ConsoleServices): void {
  const now = deps.now ?? Date.now;
  const refreshSeconds = deps.refreshSeconds ?? 30;
  const tokenOf = (path: string) => signFormToken(deps.formSecret, path, now());
  const checkToken = (path: string, form: URLSearchParams) => {
    const verdict = verifyFormToken(deps.formSecret, path, form.get('csrf') ?? undefined, now());
    if (!verdict.ok)
      throw new FormError(
        403,
        `the form's CSRF token is ${verdict.reason}; reload the page and submit it again`,
      );
  };
  const pageOptions = async () => ({ status: await deps.status(), now: now() });
  const problem = async (c: Context<AppEnv>, status: 400 | 403 | 404, message: string) => {
    const heading = { 400: 'Bad request', 403: 'Refused', 404: 'Not found' }[status];
    return c.html(
      problemPage({ ...(await pageOptions()), title: heading }, heading, message) as Html,
      status,
    );
  };
  /** Runs a handler, turning its FormError into the page that says why (nothing was changed). */
  const guarded =
    (handler: (c: Context<AppEnv>) => Promise<Response>) =>
    async (c: Context<AppEnv>): Promise<Response> => {
      try {
        return await handler(c);
      } catch (error) {
        if (error instanceof FormError) {
          requestLog(c).info(
            { status: error.status, reason: error.message, path: c.req.path },
            'console request refused',
          );
          return problem(c, error.status, error.message);
        }
        throw error;
      }
    };

  const operator = requireOperator(deps.auth, 'browser');
  for (const path of ['/', '/console.css', '/incidents/*', '/dead-letters', '/dead-letters/*']) {
    app.use(path, securityHeaders('console'), operator);
  }
  app.use('/admin/*', securityHeaders('bull-board'), operator, sameOriginWrites);
  app.use('/admin', securityHeaders('bull-board'), operator);
  app.use('/api/*', requireOperator(deps.auth, 'api'));

  app.get(STYLESHEET_PATH, (c) =>
    c.body(CONSOLE_CSS, 200, {
      'Content-Type': 'text/css; charset=utf-8',
      'Cache-Control': 'private, max-age=300',
    }),
  );

  app.get(
    '/',
    guarded(async (c) => {
      const { refresh, ...query } = c.req.query();
      if (refresh !== undefined && refresh !== 'off')
        throw new FormError(400, 'refresh: only "off" (pause the auto-refresh) is known');
      const parsed = parseConsoleFilter(query);
      if (!parsed.ok) throw new FormError(400, parsed.message);
      const list = (filter: IncidentListFilter) =>
        deps.listIncidents(filter).catch((error: unknown) => {
          if (error instanceof InvalidCursorError) throw new FormError(400, `cursor: ${error.message}`);
          throw error;
        });
      const { filter } = parsed;
      const byStatus = filter.status !== undefined;
      const [main, recentlyResolved, options] = await Promise.all([
        list(byStatus ? filter : { ...filter, status: 'firing' }),
        byStatus || filter.cursor
          ? undefined
          : list({ ...filter, status: 'resolved', limit: RECENTLY_RESOLVED }),
        pageOptions(),
      ]);
      return c.html(
        incidentsPage(
          { ...options, refreshSeconds },
          filter,
          { main, recentlyResolved },
          refresh === 'off',
        ) as Html,
      );
    }),
  );

  app.get(
    '/incidents/:id',
    guarded(async (c) => {
      const id = c.req.param('id') ?? '';
      const [detail, options, silenceRequests] = await Promise.all([
        loadIncidentDetail(id, deps, now()),
        pageOptions(),
        INCIDENT_ID.test(id) ? deps.silenceRequests(id) : [],
      ]);
      if (!detail) throw new FormError(404, `no incident ${id} (unknown, or expired after resolve)`);
      const done = c.req.query('done');
      const notice = done && Object.hasOwn(NOTICES, done) ? (done as Notice) : undefined;
      return c.html(
        incidentPage(
          options,
          detail,
          {
            ackToken: tokenOf(`/incidents/${id}/acknowledge`),
            silenceToken: tokenOf(`/incidents/${id}/silence`),
            silenceDurations: deps.alertmanagerUrls.length ? deps.silenceDurations : [],
            alertmanagerUrls: deps.alertmanagerUrls,
            silenceRequests,
          },
          notice,
        ) as Html,
      );
    }),
  );

  /** The incident a form acts on, after its CSRF token: an unknown one is a 404 with nothing changed. */
  const incidentOf = async (c: Context<AppEnv>, action: string) => {
    const id = c.req.param('id') ?? '';
    const form = await formOf(c, deps.maxBodyBytes);
    checkToken(`/incidents/${id}/${action}`, form);
    const groupId = INCIDENT_ID.test(id) ? await deps.alerts.findGroupOfIncident(id) : undefined;
    if (!groupId) throw new FormError(404, `no incident ${id} (unknown, or expired after resolve)`);
    return { ref: { groupId, incidentId: id }, form };
  };

  app.post(
    '/incidents/:id/acknowledge',
    guarded(async (c) => {
      const { ref, form } = await incidentOf(c, 'acknowledge');
      const by = personOf(form);
      const result = await acknowledgeIncident(ref, by, deps, now(), 'console');
      requestLog(c).info(
        { incidentId: ref.incidentId, status: result.status, by },
        'acknowledge from the console',
      );
      if (result.status === 'not_found') throw new FormError(404, `no incident ${ref.incidentId}`);
      return c.redirect(`/incidents/${ref.incidentId}?done=${result.status}`, 303);
    }),
  );

  app.post(
    '/incidents/:id/silence',
    guarded(async (c) => {
      const { ref, form } = await incidentOf(c, 'silence');
      const by = personOf(form);
      if (deps.alertmanagerUrls.length === 0)
        throw new FormError(400, 'ALERTMANAGER_URL is not set, so the relay cannot create silences');
      const seconds = Number(form.get('duration'));
      if (!deps.silenceDurations.includes(seconds))
        throw new FormError(
          400,
          `duration must be one of policy silence_durations (${deps.silenceDurations.join(', ')} seconds)`,
        );
      const snapshot = await deps.alerts.loadIncident(ref.groupId, ref.incidentId);
      if (snapshot?.status === 'resolved')
        return c.redirect(`/incidents/${ref.incidentId}?done=resolved`, 303);
      // The path Slack's Silence button takes: the interaction worker creates the silence on every
      // Alertmanager, records it in the flags (reminders pause) and reconciles every destination.
      await deps.interactions.enqueueSilence({ ...ref, durationMs: seconds * 1000, by, from: 'the console' });
      requestLog(c).info(
        { incidentId: ref.incidentId, durationMs: seconds * 1000, by },
        'silence requested from the console',
      );
      return c.redirect(`/incidents/${ref.incidentId}?done=silence-requested`, 303);
    }),
  );

  app.get(
    '/dead-letters',
    guarded(async (c) => {
      const [letters, options] = await Promise.all([listDeadLetters(deps.queue, deps.alerts), pageOptions()]);
      const done = c.req.query('done');
      const notice = done === 'retried' || done === 'missing' ? (done as RetryNotice) : undefined;
      return c.html(deadLettersPage(options, letters, tokenOf, notice) as Html);
    }),
  );

  app.post(
    '/dead-letters/:kind/:job/retry',
    guarded(async (c) => {
      const name = `${c.req.param('kind')}/${c.req.param('job')}`;
      const form = await formOf(c, deps.maxBodyBytes);
      checkToken(`/dead-letters/${name}/retry`, form);
      const { retried } = await retryDeadLetters(deps.queue, [name]);
      requestLog(c).info({ deadLetter: name, retried: retried.length }, 'dead letter retry from the console');
      return c.redirect(`/dead-letters?done=${retried.length ? 'retried' : 'missing'}`, 303);
    }),
  );

  mountBullBoard(app, deps.boardQueues);
}

/**
 * bull-board's own API changes jobs with PUT/POST/DELETE from its page. The browser sends the basic-auth
 * credentials with a cross-site request too, so a write must come from bull-board's own page: the browser
 * says so in Sec-Fetch-Site (a header no page can set), or, for an older browser, its Origin names this
 * host. The Host header, not the request URL, is compared: behind a TLS-terminating proxy the relay sees
 * http:// while the page's origin is https://.
 */
export function isSameOriginWrite(headers: {
  method: string;
  secFetchSite: string | undefined;
  origin: string | undefined;
  host: string | undefined;
}): boolean {
  if (headers.method === 'GET' || headers.method === 'HEAD') return true;
  if (headers.secFetchSite !== undefined) return headers.secFetchSite === 'same-origin';
  if (!headers.origin || !headers.host) return false;
  try {
    return new URL(headers.origin).host === headers.host;
  } catch {
    return false;
  }
}

const sameOriginWrites = async (c: Context, next: () => Promise<void>) => {
  const allowed = isSameOriginWrite({
    method: c.req.method,
    secFetchSite: c.req.header('sec-fetch-site'),
    origin: c.req.header('origin'),
    host: c.req.header('host'),
  });
  if (!allowed)
    return c.json(
      { error: { code: 'forbidden', message: 'bull-board changes must come from its own page' } },
      403,
    );
  return next();
};

export const BULL_BOARD_PATH = '/admin/queues';

function mountBullBoard(app: Hono<AppEnv>, queues: readonly Queue[]): void {
  const serverAdapter = new HonoAdapter(serveStatic);
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Relay queues' } },
  });
  app.route(BULL_BOARD_PATH, serverAdapter.registerPlugin());
}
