/**
 * The one place that wires config, adapters, HTTP server and workers together. main.ts calls it for the
 * real process; tests and benchmarks call it to run a whole relay on a free port with their own prefix.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Config } from './config/config.js';
import { BullDeliveryQueue } from './enqueue/delivery-queue.js';
import { createApp } from './http/app.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { checkEvictionPolicy, createProducerRedis, waitForRedis } from './redis.js';
import { RedisAlertStore } from './store/alert-store.js';

export interface RelayOptions {
  logger?: Logger;
  metrics?: Metrics;
  now?: () => number;
  /** How long to wait for Redis at start before giving up. */
  redisWaitMs?: number;
}

export interface RunningRelay {
  url: string;
  port: number;
  metrics: Metrics;
  queue: BullDeliveryQueue;
  store: RedisAlertStore;
  stop(): Promise<void>;
}

export async function startRelay(config: Config, options: RelayOptions = {}): Promise<RunningRelay> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? createMetrics();
  const { policy } = config;

  const redis = createProducerRedis(config.redisUrl);
  redis.on('error', (error) => logger.warn({ err: { message: error.message } }, 'Redis connection error'));
  // BullMQ checks the Redis version as soon as a Queue is built; without an offline queue that check must
  // wait for the connection, or the queue stays broken. A relay that cannot reach Redis at start exits.
  logger.info('connecting to Redis');
  await waitForRedis(redis, options.redisWaitMs ?? 30_000).catch((error: Error) => {
    redis.disconnect();
    throw new Error(`${error.message} (REDIS_URL); is Redis running?`);
  });
  const warning = await checkEvictionPolicy(redis);
  if (warning) logger.warn(warning);
  const store = new RedisAlertStore(redis, { prefix: policy.redis_prefix, retentionSeconds: policy.delivery.retention });
  const queue = new BullDeliveryQueue(redis, {
    prefix: policy.redis_prefix,
    attempts: policy.delivery.attempts,
    retentionSeconds: policy.delivery.retention,
  });

  const app = createApp({
    config,
    policy,
    store,
    queue,
    metrics,
    logger,
    oncallEmail: config.oncallEmail,
    ...(options.now ? { now: options.now } : {}),
    checkReady: async () => {
      await redis.ping();
      await queue.queue.getJobCounts('wait');
    },
    refreshGauges: async () => {
      const counts = await queue.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
      for (const [state, count] of Object.entries(counts)) metrics.queueJobs.set({ state }, count);
    },
  });

  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  logger.info({ host: config.host, port, role: config.role, policy: config.policySource }, 'relay listening');
  if (!config.webhookToken) {
    logger.warn('RELAY_WEBHOOK_TOKEN is not set: the webhook accepts unauthenticated requests (allowed on loopback only)');
  }

  let stopped = false;
  return {
    url: `http://${host}:${port}`,
    port,
    metrics,
    queue,
    store,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Stop accepting webhooks first, then close the queue and Redis.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queue.close();
      redis.disconnect();
    },
  };
}
