/**
 * The one place that wires config, adapters, HTTP server and workers together. main.ts calls it for the
 * real process; tests and benchmarks call it to run a whole relay on a free port with their own prefix.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { BullInteractionQueue, startInteractionWorker } from './ack/interaction-queue.js';
import { mountInteractionRoutes } from './ack/routes.js';
import { signAckToken } from './ack/signatures.js';
import { slackActionBlocks } from './ack/slack-actions.js';
import type { Config } from './config/config.js';
import {
  CircuitBreaker,
  type ContextProvider,
  createRedisContextCache,
  FileContextProvider,
  HttpContextProvider,
} from './context/index.js';
import { createAlertmanagerCheck } from './deliver/alertmanager-check.js';
import { createDeliverers } from './deliver/channels.js';
import { type ContextStage, createContextStage } from './deliver/context-stage.js';
import { type MailSender, OutboxMailSender, SmtpMailSender } from './deliver/mail-sender.js';
import { OutboxSlackSender, type SlackSender, WebApiSlackSender } from './deliver/slack-sender.js';
import { startDeliveryWorkers } from './deliver/worker.js';
import { BullDeliveryQueue } from './enqueue/delivery-queue.js';
import { createApp } from './http/app.js';
import type { ChannelKind } from './model.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import {
  checkEvictionPolicy,
  createProducerRedis,
  createWorkerRedis,
  describeRedisTarget,
  RedisAuthError,
  waitForRedis,
} from './redis.js';
import { loadEmailTemplates } from './render/email.js';
import { RedisAlertStore } from './store/alert-store.js';
import { DeliveryStore } from './store/delivery-store.js';
import { configHashOf, startRelayHeartbeat } from './store/relay-heartbeat.js';
import { createReplicaGate } from './store/replicas.js';

/** Long enough for an email read the next morning; short enough that an old mail cannot acknowledge a new incident (ids differ anyway). */
const ACK_LINK_LIFETIME_SECONDS = 3 * 86400;

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
    : new OutboxSlackSender(config.outboxDir);
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

/** Start-up checks: a bad Slack token or an unreachable SMTP server is an error, unless the operator chose to start degraded. */
async function verifySenders(
  slack: SlackSender,
  mail: MailSender,
  config: Config,
  logger: Logger,
): Promise<void> {
  for (const [channel, sender] of [
    ['Slack', slack],
    ['SMTP', mail],
  ] as const) {
    try {
      logger.info({ channel, result: await sender.verify() }, `${channel} check passed`);
    } catch (error) {
      const message = `${channel} check failed: ${(error as Error).message}`;
      if (!config.policy.delivery.start_degraded)
        throw new Error(`${message} (set delivery.start_degraded: true to start anyway)`);
      logger.error(
        `${message}; starting degraded because delivery.start_degraded is true: deliveries will retry and dead-letter`,
      );
    }
  }
}

export async function startRelay(config: Config, options: RelayOptions = {}): Promise<RunningRelay> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? createMetrics();
  const { policy } = config;
  const runsApi = config.role !== 'worker';
  const runsWorker = config.role !== 'api';

  const redis = createProducerRedis(config.redis);
  redis.on('error', (error) => logger.warn({ err: { message: error.message } }, 'Redis connection error'));
  // BullMQ checks the Redis version as soon as a Queue is built; without an offline queue that check must
  // wait for the connection, or the queue stays broken. A relay that cannot reach Redis at start exits.
  logger.info('connecting to Redis');
  await waitForRedis(redis, options.redisWaitMs ?? 30_000).catch((error: Error) => {
    redis.disconnect();
    if (error instanceof RedisAuthError) throw error;
    throw new Error(`${error.message} (${describeRedisTarget(config.redis)}); is Redis running?`);
  });
  const warning = await checkEvictionPolicy(redis);
  if (warning) logger.warn(warning);
  // WAIT runs on the connection the webhook's commit used: the producer's.
  const replicas = createReplicaGate(redis, {
    minReplicas: config.redisMinReplicas,
    onReplicas: (count) => metrics.redisReplicas.set(count),
  });
  metrics.redisMinReplicas.set(config.redisMinReplicas);
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
  const storeOptions = { prefix: policy.redis_prefix, retentionSeconds: policy.delivery.retention };
  const store = new RedisAlertStore(redis, storeOptions);
  const queueOptions = { ...storeOptions, attempts: policy.delivery.attempts };
  const queue = new BullDeliveryQueue(redis, queueOptions);
  const deliveries = new DeliveryStore(redis, policy.redis_prefix, policy.delivery.retention);
  const interactions = new BullInteractionQueue(redis, policy.redis_prefix);

  let workers: Record<ChannelKind, Worker> | undefined;
  let interactionWorker: Worker | undefined;
  let workerRedis: Redis | undefined;
  let workerQueue: BullDeliveryQueue | undefined;
  let context: ContextStage | undefined;
  let mail: MailSender | undefined;
  if (runsWorker) {
    const slack = options.slack ?? selectSlackSender(config);
    mail = options.mail ?? selectMailSender(config);
    for (const [channel, sender] of [
      ['slack', slack],
      ['email', mail],
    ] as const) {
      metrics.previewMode.set({ channel }, sender.preview ? 1 : 0);
      metrics.deadLetters.inc({ channel }, 0);
      metrics.deliveries.inc({ channel, outcome: 'dead_lettered' }, 0);
      if (sender.preview)
        logger.warn(
          { channel, outbox: config.outboxDir },
          `${channel} runs in preview mode: messages are written to the outbox, not sent`,
        );
    }
    await verifySenders(slack, mail, config, logger);
    const templates = loadEmailTemplates(policy.templates_dir);

    workerRedis = createWorkerRedis(config.redis);
    workerRedis.on('error', (error) =>
      logger.warn({ err: { message: error.message } }, 'Redis connection error (worker)'),
    );
    workerQueue = new BullDeliveryQueue(workerRedis, queueOptions);
    const workerDeliveries = new DeliveryStore(workerRedis, policy.redis_prefix, policy.delivery.retention);
    context = createContextStage({
      catalogPath: policy.context.catalog,
      provider: selectContextProvider(config, workerRedis),
      deadlineMs: Math.max(200, policy.context.timeout * 1000 + 200),
      onUnavailable: (reason) => {
        metrics.contextUnavailable.inc();
        logger.warn({ reason }, 'cold-chain context unavailable; notifying without it');
      },
    });
    const deliverers = createDeliverers({
      slack,
      mail,
      store: workerDeliveries,
      templates,
      metrics,
      logger,
      emailFrom: config.smtp.from,
      slackPaceMs: policy.delivery.slack_pace * 1000,
      ...(config.slack.signingSecret
        ? {
            slackActions: (run) =>
              slackActionBlocks(run, {
                silenceDurations: config.alertmanagerUrls.length > 0 ? policy.silence_durations : [],
              }),
          }
        : {}),
      ...(config.ackSecret
        ? {
            ackUrl: (run) =>
              `${config.publicUrl}/ack/${signAckToken(config.ackSecret!, {
                groupId: run.snapshot.groupId,
                incidentId: run.snapshot.incidentId,
                who: run.delivery.target,
                exp: Math.floor(run.now / 1000) + ACK_LINK_LIFETIME_SECONDS,
              })}`,
          }
        : {}),
    });
    const workerAlerts = new RedisAlertStore(workerRedis, storeOptions);
    workers = startDeliveryWorkers({
      alerts: workerAlerts,
      deliveries: workerDeliveries,
      queue: workerQueue,
      deliverers,
      context,
      alertmanager: createAlertmanagerCheck(config.alertmanagerUrls),
      policy,
      oncallEmail: config.oncallEmail,
      publicUrl: config.publicUrl,
      logger,
      metrics,
      connection: workerRedis,
      ...(options.now ? { now: options.now } : {}),
      ...(options.locks?.jobLockMs ? { jobLockMs: options.locks.jobLockMs } : {}),
      ...(options.locks?.deliveryLockMs ? { deliveryLockMs: options.locks.deliveryLockMs } : {}),
    });
    interactionWorker = startInteractionWorker({
      alerts: workerAlerts,
      deliveries: workerDeliveries,
      queue: workerQueue,
      alertmanagerUrls: config.alertmanagerUrls,
      publicUrl: config.publicUrl,
      connection: workerRedis,
      prefix: policy.redis_prefix,
      slackApiUrl: config.slack.apiUrl,
      logger,
    });
  }

  const app = createApp({
    config,
    policy,
    store,
    queue,
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
    },
    mount: (app) =>
      mountInteractionRoutes(app, {
        alerts: store,
        deliveries,
        queue,
        interactions,
        redis,
        prefix: policy.redis_prefix,
        metrics,
        webhookToken: config.webhookToken,
        signingSecret: config.slack.signingSecret,
        silenceDurations: policy.silence_durations,
        ackSecret: config.ackSecret,
        maxBodyBytes: config.maxBodyBytes,
        ...(options.now ? { now: options.now } : {}),
      }),
    refreshGauges: async () => {
      await replicas.check().catch(() => undefined); // sets relay_redis_replicas; /readyz reports the reason
      // Summed over the channel kinds' queues; 'prioritized' holds every waiting delivery job (they all have a
      // priority), so it counts as waiting.
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
    },
  });

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
  const port = (server.address() as AddressInfo).port;
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
    context,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Stop accepting webhooks, let in-flight jobs finish (bounded), then close workers, queues, Redis.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would hold close() open; requests in flight still finish.
      (server as import('node:http').Server).closeIdleConnections();
      await closed;
      // With the worker's Redis down, a running job can neither finish nor record its outcome: waiting out
      // the grace would only delay shutdown (its lock expires and another worker retries it).
      const graceMs = workerRedis?.status === 'ready' ? policy.delivery.shutdown_grace * 1000 : 0;
      const closeWorker = async (w: Worker, what: string) => {
        const grace = new Promise<'timeout'>((resolve) =>
          setTimeout(() => resolve('timeout'), graceMs).unref(),
        );
        // Wait with pause(), not close(): once close() has started, BullMQ hands every later call, close(true)
        // included, the same pending promise, so a hung job would hold stop() forever. pause() takes no new
        // job and resolves when the running ones are done; after the grace, close(true) abandons them (their
        // locks expire and another worker takes the jobs over as stalled).
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
      };
      await Promise.all([
        ...Object.entries(workers ?? {}).map(([kind, w]) => closeWorker(w, `${kind} deliveries`)),
        interactionWorker ? closeWorker(interactionWorker, 'interactions') : undefined,
      ]);
      await workerQueue?.close();
      await interactions.close();
      await heartbeat.stop();
      await queue.close();
      mail?.close();
      workerRedis?.disconnect();
      redis.disconnect();
    },
  };
}
