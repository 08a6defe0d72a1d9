/**
 * The one place that wires config, adapters, HTTP server and workers together. main.ts calls it for the
 * real process; tests and benchmarks call it to run a whole relay on a free port with their own prefix.
 */
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { serve } from '@hono/node-server';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createAlertmanagerCheck } from '../alertmanager/alerts.js';
import { loadEmailTemplates } from '../channels/email/render.js';
import { type MailSender, OutboxMailSender, SmtpMailSender } from '../channels/email/sender.js';
import { routePolicies } from '../channels/episodes.js';
import { createDeliverers } from '../channels/registry.js';
import { BullInteractionQueue, startInteractionWorker } from '../channels/slack/interactions.js';
import { SlackPaceGate } from '../channels/slack/pace-gate.js';
import { OutboxSlackSender, type SlackSender, WebApiSlackSender } from '../channels/slack/sender.js';
import type { Config } from '../config/config.js';
import {
  CircuitBreaker,
  type ContextProvider,
  createRedisContextCache,
  FileContextProvider,
  HttpContextProvider,
} from '../context/index.js';
import { type ContextStage, createContextStage } from '../deliver/context-stage.js';
import { type HandoffDigests, handoffSchedules, startHandoffDigests } from '../deliver/handoff.js';
import { startDeliveryWorkers } from '../deliver/worker.js';
import type { ChannelKind } from '../domain/model.js';
import { BullDeliveryQueue } from '../enqueue/delivery-queue.js';
import { WriteAheadLog } from '../enqueue/write-ahead.js';
import { createApp } from '../http/app.js';
import { register as registerConsole } from '../http/routes/console.js';
import { registerRoutes } from '../http/routes/index.js';
import type { RouteServices } from '../http/routes/services.js';
import { drainAtBoot, type RunningPump, startPump } from '../ingest/pump.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { createOnCallResolver } from '../oncall/resolver.js';
import type { OnCallResolver } from '../oncall/types.js';
import { RedisAlertStore } from '../store/alert-store.js';
import { DeliveryLocks } from '../store/delivery-locks.js';
import { DeliveryStore } from '../store/delivery-store.js';
import { FlapStore } from '../store/flap-store.js';
import { IncidentIndex } from '../store/incident-index.js';
import {
  checkEvictionPolicy,
  createProducerRedis,
  createWorkerRedis,
  describeRedisTarget,
  RedisAuthError,
  waitForRedis,
} from '../store/redis.js';
import { configHashOf, startRelayHeartbeat } from '../store/relay-heartbeat.js';
import { createReplicaGate } from '../store/replicas.js';
import { StormStore } from '../store/storm-store.js';
import { runOnlineChecks } from './checks.js';
import { consoleServicesOf } from './console.js';

export interface RelayOptions {
  logger?: Logger;
  metrics?: Metrics;
  now?: () => number;
  /** How long to wait for Redis at start before giving up. */
  redisWaitMs?: number;
  /** Senders to use instead of the ones the config selects (tests inject failing ones). */
  slack?: SlackSender;
  mail?: MailSender;
  /**
   * How soon a delivery whose worker died is taken over (ms): BullMQ's job lock and stalled-check interval,
   * and the per-delivery lock's TTL (renewed while its job runs). The defaults (30 s, 15 s) suit production;
   * crash tests shorten them.
   */
  locks?: { jobLockMs?: number; deliveryLockMs?: number };
  /** Who is on call, instead of the policy's `schedules:` (tests inject their own). */
  oncall?: OnCallResolver;
}

export interface RunningRelay {
  url: string;
  port: number;
  metrics: Metrics;
  /** The delivery queues, one per channel kind (`queue.queues.slack`, …), with counts summed over them. */
  queue: BullDeliveryQueue;
  store: RedisAlertStore;
  deliveries: DeliveryStore;
  /** The delivery workers, one per channel kind; undefined in the `api` role. */
  workers: Record<ChannelKind, Worker> | undefined;
  context: ContextStage | undefined;
  stop(): Promise<void>;
}

export function selectSlackSender(config: Config): SlackSender {
  return config.slack.token
    ? new WebApiSlackSender(
        config.slack.token,
        config.slack.apiUrl,
        config.policy.delivery.slack_timeout * 1000,
        config.policy.slack_identity,
      )
    : new OutboxSlackSender(config.outboxDir, config.policy.slack_identity);
}

export function selectMailSender(config: Config): MailSender {
  return config.smtp.url
    ? new SmtpMailSender(config.smtp.url, config.policy.delivery.smtp_timeout * 1000)
    : new OutboxMailSender(config.outboxDir);
}

function selectContextProvider(config: Config, redis: Redis): ContextProvider {
  const { context, redis_prefix } = config.policy;
  if (!config.contextApiUrl) return FileContextProvider.fromFile(context.fleet);
  return new HttpContextProvider({
    baseUrl: config.contextApiUrl,
    timeoutMs: context.timeout * 1000,
    cache: createRedisContextCache(redis, `${redis_prefix}:context`),
    cacheTtlSeconds: context.cache_ttl,
    breaker: new CircuitBreaker({ failureThreshold: 5, coolDownMs: 30_000 }),
  });
}

/** Online start-up checks: a bad Slack token or an unreachable SMTP server refuses the start, unless the operator chose to start degraded. */
async function verifySenders(
  slack: SlackSender,
  mail: MailSender,
  config: Config,
  logger: Logger,
): Promise<void> {
  for (const result of await runOnlineChecks(config, { slack, mail })) {
    if (result.ok)
      logger.info({ channel: result.channel, result: result.detail }, `${result.channel} check passed`);
    else
      logger.error(
        `${result.error.message}; starting degraded because delivery.start_degraded is true: deliveries will retry and dead-letter`,
      );
  }
}

/** The stores and queues over one Redis connection (the producer's, or the workers' own). */
function storesOver(redis: Redis, policy: Config['policy']) {
  const storeOptions = { prefix: policy.redis_prefix, retentionSeconds: policy.delivery.retention };
  const queueOptions = { ...storeOptions, attempts: policy.delivery.attempts };
  const queue = new BullDeliveryQueue(redis, queueOptions);
  return {
    alerts: new RedisAlertStore(redis, storeOptions),
    queue,
    writeAhead: new WriteAheadLog(redis, queue, queueOptions),
    deliveries: new DeliveryStore(redis, policy.redis_prefix, policy.delivery.retention),
  };
}

/** Connects the producer's Redis; a relay that cannot reach Redis at start exits. */
async function connectRedis(config: Config, logger: Logger, waitMs: number): Promise<Redis> {
  const redis = createProducerRedis(config.redis);
  redis.on('error', (error) => logger.warn({ err: { message: error.message } }, 'Redis connection error'));
  // BullMQ checks the Redis version as soon as a Queue is built; without an offline queue that check must
  // wait for the connection, or the queue stays broken.
  logger.info('connecting to Redis');
  await waitForRedis(redis, waitMs).catch((error: Error) => {
    redis.disconnect();
    if (error instanceof RedisAuthError) throw error;
    throw new Error(`${error.message} (${describeRedisTarget(config.redis)}); is Redis running?`);
  });
  const warning = await checkEvictionPolicy(redis);
  if (warning) logger.warn(warning);
  return redis;
}

/** Announces this relay on its prefix and warns about another relay sharing it with a different policy. */
async function announce(redis: Redis, config: Config, logger: Logger) {
  const { policy } = config;
  const heartbeat = await startRelayHeartbeat(redis, {
    prefix: policy.redis_prefix,
    configHash: configHashOf(policy),
    role: config.role,
    onError: (error) => logger.debug({ err: error }, 'could not write the relay heartbeat'),
  });
  for (const other of heartbeat.conflicts) {
    logger.warn(
      { prefix: policy.redis_prefix, other: { host: other.host, pid: other.pid, role: other.role } },
      'another relay uses this redis_prefix on this Redis with a different policy: relays sharing a prefix share queues and incidents; give each deployment its own redis_prefix',
    );
  }
  return heartbeat;
}

/** Seeds the per-channel series so dashboards see 0 rather than nothing, and says when a channel is in preview. */
function seedChannelMetrics(
  senders: Record<ChannelKind, { preview: boolean }>,
  config: Config,
  metrics: Metrics,
  logger: Logger,
): void {
  for (const [channel, sender] of Object.entries(senders)) {
    metrics.previewMode.set({ channel }, sender.preview ? 1 : 0);
    metrics.deadLetters.inc({ channel }, 0);
    metrics.deliveries.inc({ channel, outcome: 'dead_lettered' }, 0);
    if (sender.preview)
      logger.warn(
        { channel, outbox: config.outboxDir },
        `${channel} runs in preview mode: messages are written to the outbox, not sent`,
      );
  }
}

interface RunningWorkers {
  workers: Record<ChannelKind, Worker>;
  interactionWorker: Worker;
  workerRedis: Redis;
  workerQueue: BullDeliveryQueue;
  pump: RunningPump;
  context: ContextStage;
  mail: MailSender;
  handoff: HandoffDigests | undefined;
}

/** The worker role: senders (checked), channel slices, delivery and interaction workers on their own Redis connection. */
async function startWorkers(
  config: Config,
  options: RelayOptions,
  metrics: Metrics,
  logger: Logger,
): Promise<RunningWorkers> {
  const { policy } = config;
  const slack = options.slack ?? selectSlackSender(config);
  const mail = options.mail ?? selectMailSender(config);
  seedChannelMetrics({ slack, email: mail }, config, metrics, logger);
  await verifySenders(slack, mail, config, logger);
  const templates = loadEmailTemplates(policy.templates_dir);

  const workerRedis = createWorkerRedis(config.redis);
  workerRedis.on('error', (error) =>
    logger.warn({ err: { message: error.message } }, 'Redis connection error (worker)'),
  );
  const { alerts, queue: workerQueue, writeAhead, deliveries } = storesOver(workerRedis, policy);
  // Before the workers start, so the entries left from before (a crash, a stopped worker fleet) are queued
  // first, and as a whole.
  const blocking = createWorkerRedis(config.redis);
  blocking.on('error', () => undefined); // reported by the worker connection's handler
  const pumpDeps = { log: writeAhead, store: alerts, blocking, logger };
  await drainAtBoot(pumpDeps, 10_000);
  const pump = startPump(pumpDeps);
  const context = createContextStage({
    catalogPath: policy.context.catalog,
    timeZone: policy.display_timezone,
    alertmanagerUrls: config.alertmanagerUrls,
    provider: selectContextProvider(config, workerRedis),
    deadlineMs: Math.max(200, policy.context.timeout * 1000 + 200),
    onUnavailable: (reason) => {
      metrics.contextUnavailable.inc();
      logger.warn({ reason }, 'cold-chain context unavailable; notifying without it');
    },
  });
  const oncall =
    options.oncall ??
    createOnCallResolver(policy.schedules, {
      baseDir: config.policySource === 'embedded default' ? process.cwd() : dirname(config.policySource),
      metrics,
      log: logger,
    });
  // Storm digests and flap control (issue 14): decided by the workers, in Redis, per destination and group.
  const flaps = new FlapStore(workerRedis, policy.redis_prefix, policy.delivery.retention + 86400);
  const episodes = {
    storms: new StormStore(workerRedis, policy.redis_prefix, policy.delivery.retention),
    flaps,
    routePolicy: routePolicies(policy),
  };
  const deliverers = createDeliverers({
    episodes,
    slack,
    mail,
    paceGate: new SlackPaceGate(workerRedis, policy.redis_prefix),
    templates,
    metrics,
    logger,
    emailFrom: config.smtp.from,
    slackPaceMs: policy.delivery.slack_pace * 1000,
    // A preview shows the buttons and the acknowledge link even without their secrets, marked inactive.
    buttons:
      config.slack.signingSecret || slack.preview
        ? {
            silenceDurations: config.alertmanagerUrls.length > 0 ? policy.silence_durations : [],
            inactive: config.slack.signingSecret ? undefined : 'SLACK_SIGNING_SECRET is not set',
          }
        : undefined,
    ackLinks: config.ackSecret ? { publicUrl: config.publicUrl, secret: config.ackSecret } : undefined,
    ackPreview: !config.ackSecret && mail.preview ? 'RELAY_ACK_SECRET is not set' : undefined,
  });
  const workers = startDeliveryWorkers({
    alerts,
    deliveries,
    locks: new DeliveryLocks(workerRedis, policy.redis_prefix),
    queue: workerQueue,
    deliverers,
    flaps,
    context,
    alertmanager: createAlertmanagerCheck(config.alertmanagerUrls),
    policy,
    oncallEmail: config.oncallEmail,
    oncall,
    publicUrl: config.publicUrl,
    logger,
    metrics,
    connection: workerRedis,
    ...(options.now ? { now: options.now } : {}),
    ...(options.locks?.jobLockMs ? { jobLockMs: options.locks.jobLockMs } : {}),
    ...(options.locks?.deliveryLockMs ? { deliveryLockMs: options.locks.deliveryLockMs } : {}),
  });
  const interactionWorker = startInteractionWorker({
    alerts,
    deliveries,
    queue: workerQueue,
    alertmanagerUrls: config.alertmanagerUrls,
    publicUrl: config.publicUrl,
    connection: workerRedis,
    prefix: policy.redis_prefix,
    slackApiUrl: config.slack.apiUrl,
    logger,
    timeZone: policy.display_timezone,
  });
  const handoff = handoffSchedules(policy.schedules).length
    ? await startHandoffDigests({
        connection: workerRedis,
        policy,
        schedules: policy.schedules,
        oncall,
        alerts,
        deliveries,
        slack,
        mail,
        emailFrom: config.smtp.from,
        logger,
        ...(options.now ? { now: options.now } : {}),
      })
    : undefined;
  return { workers, interactionWorker, workerRedis, workerQueue, pump, context, mail, handoff };
}

/** Queue depths for /metrics, summed over the channel kinds' queues, and the write-ahead pump's lag. */
async function refreshQueueGauges(
  queue: BullDeliveryQueue,
  writeAhead: WriteAheadLog,
  metrics: Metrics,
): Promise<void> {
  const depth = await writeAhead.depth();
  metrics.writeAheadEntries.set(depth.entries);
  metrics.writeAheadOldestSeconds.set(depth.oldestMs / 1000);
  // 'prioritized' holds every waiting delivery job (they all have a priority), so it counts as waiting.
  const counts = await queue.getJobCounts(
    'waiting',
    'prioritized',
    'active',
    'delayed',
    'failed',
    'completed',
  );
  counts.waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
  delete counts.prioritized;
  for (const [state, count] of Object.entries(counts)) metrics.queueJobs.set({ state }, count);
}

async function listen(app: { fetch: (request: Request) => Response | Promise<Response> }, config: Config) {
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
    s.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `${config.host}:${config.port} is already in use (PORT, HOST)`
            : error.message,
        ),
      ),
    );
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * Waits for a worker's running jobs up to the grace, then closes it. Waits with pause(), not close(): once
 * close() has started, BullMQ hands every later call, close(true) included, the same pending promise, so a
 * hung job would hold stop() forever. pause() takes no new job and resolves when the running ones are done;
 * after the grace, close(true) abandons them (their locks expire and another worker takes the jobs over as
 * stalled).
 */
async function closeWorker(w: Worker, what: string, graceMs: number, logger: Logger): Promise<void> {
  const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
  const idle = w.pause().then(
    () => 'idle' as const,
    () => 'idle' as const,
  );
  if ((await Promise.race([idle, grace])) === 'timeout') {
    logger.warn(
      `in-flight ${what} did not finish within shutdown_grace; they will be retried by another worker`,
    );
    await w.close(true);
  } else {
    await w.close();
  }
}

/** What the route groups get: the producer's stores and queues, and the secrets that guard each route. */
function routeServicesOf(
  config: Config,
  parts: Pick<RouteServices, 'alerts' | 'deliveries' | 'index' | 'queue' | 'interactions' | 'metrics'>,
  options: RelayOptions,
): RouteServices {
  return {
    ...parts,
    webhookToken: config.webhookToken,
    signingSecret: config.slack.signingSecret,
    silenceDurations: config.policy.silence_durations,
    ackSecret: config.ackSecret,
    maxBodyBytes: config.maxBodyBytes,
    personOf: personLookup(config.policy),
    ...(options.now ? { now: options.now } : {}),
  };
}

/** Schedule members by email address, so an acknowledge link sent to one of them names them. */
function personLookup(policy: Config['policy']): (address: string) => string | undefined {
  const byAddress = new Map<string, string>();
  for (const schedule of Object.values(policy.schedules))
    for (const member of schedule.members)
      if (member.email) byAddress.set(member.email.toLowerCase(), member.name);
  return (address) => byAddress.get(address.toLowerCase());
}

/** Stops accepting webhooks, lets in-flight jobs finish (bounded), then closes workers, queues, Redis. */
async function stopRelay(
  parts: {
    server: ReturnType<typeof serve>;
    redis: Redis;
    queue: BullDeliveryQueue;
    interactions: BullInteractionQueue;
    heartbeat: { stop(): Promise<void> };
    running: RunningWorkers | undefined;
  },
  policy: Config['policy'],
  logger: Logger,
): Promise<void> {
  const { server, redis, queue, interactions, heartbeat, running } = parts;
  const workers = running?.workers;
  // Stop accepting webhooks, let in-flight jobs finish (bounded), then close workers, queues, Redis.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Idle keep-alive sockets would hold close() open; requests in flight still finish.
  (server as import('node:http').Server).closeIdleConnections();
  await closed;
  // With the worker's Redis down, a running job can neither finish nor record its outcome: waiting out
  // the grace would only delay shutdown (its lock expires and another worker retries it).
  const graceMs = running?.workerRedis.status === 'ready' ? policy.delivery.shutdown_grace * 1000 : 0;
  await Promise.all([
    ...Object.entries(workers ?? {}).map(([kind, w]) =>
      closeWorker(w, `${kind} deliveries`, graceMs, logger),
    ),
    running ? closeWorker(running.interactionWorker, 'interactions', graceMs, logger) : undefined,
    running?.handoff ? closeWorker(running.handoff.worker, 'handoff digests', graceMs, logger) : undefined,
  ]);
  await running?.pump.stop();
  await running?.handoff?.queue.close();
  await running?.workerQueue.close();
  await interactions.close();
  await heartbeat.stop();
  await queue.close();
  running?.mail.close();
  running?.workerRedis.disconnect();
  redis.disconnect();
}

export async function startRelay(config: Config, options: RelayOptions = {}): Promise<RunningRelay> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? createMetrics();
  const { policy } = config;
  const runsApi = config.role !== 'worker';

  const redis = await connectRedis(config, logger, options.redisWaitMs ?? 30_000);
  // WAIT runs on the connection the webhook's commit used: the producer's.
  const replicas = createReplicaGate(redis, {
    minReplicas: config.redisMinReplicas,
    onReplicas: (count) => metrics.redisReplicas.set(count),
  });
  metrics.redisMinReplicas.set(config.redisMinReplicas);
  const heartbeat = await announce(redis, config, logger);
  const { alerts: store, queue, writeAhead, deliveries } = storesOver(redis, policy);
  const interactions = new BullInteractionQueue(redis, policy.redis_prefix);
  const running = config.role !== 'api' ? await startWorkers(config, options, metrics, logger) : undefined;
  const workers = running?.workers;

  const app = createApp({
    config,
    policy,
    store,
    writeAheadKey: writeAhead.key,
    metrics,
    logger,
    oncallEmail: config.oncallEmail,
    ...(options.now ? { now: options.now } : {}),
    ...(runsApi ? { replicas } : {}),
    checkReady: async () => {
      await redis.ping();
      // Webhooks are refused (503) while too few replicas could confirm them.
      if (runsApi) await replicas.check();
      await queue.getJobCounts('wait');
      for (const [kind, worker] of Object.entries(workers ?? {}))
        if (!worker.isRunning()) throw new Error(`the ${kind} delivery worker is not running`);
      if (running && !running.pump.isRunning()) throw new Error('the write-ahead pump is not running');
    },
    mount: (app) => {
      // First: the console's guards cover /api/* too, and a guard runs only before the routes it precedes.
      registerConsole(
        app,
        consoleServicesOf(config, { redis, alerts: store, deliveries, queue, interactions }, options.now),
      );
      registerRoutes(
        app,
        routeServicesOf(
          config,
          {
            alerts: store,
            deliveries,
            index: new IncidentIndex(redis, policy.redis_prefix),
            queue,
            interactions,
            metrics,
          },
          options,
        ),
      );
    },
    refreshGauges: async () => {
      await replicas.check().catch(() => undefined); // sets relay_redis_replicas; /readyz reports the reason
      await refreshQueueGauges(queue, writeAhead, metrics);
    },
  });

  const { server, port } = await listen(app, config);
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  logger.info({ host: config.host, port, role: config.role, policy: config.policySource }, 'relay listening');
  if (runsApi && !config.webhookToken) {
    logger.warn(
      'RELAY_WEBHOOK_TOKEN is not set: the webhook accepts unauthenticated requests (allowed on loopback only)',
    );
  }

  let stopped = false;
  return {
    url: `http://${host}:${port}`,
    port,
    metrics,
    queue,
    store,
    deliveries,
    workers,
    context: running?.context,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopRelay({ server, redis, queue, interactions, heartbeat, running }, policy, logger);
    },
  };
}
