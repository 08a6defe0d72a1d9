/**
 * The console's services, built from the producer's stores and queues (app/relay.ts calls it from the API
 * roles' `mount`). Status probes read Redis through the producer's connection, which fails fast when Redis
 * is down, so the header strip says so instead of hanging.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BullInteractionQueue } from '../channels/slack/interactions.js';
import { SlackPaceGate } from '../channels/slack/pace-gate.js';
import type { Config } from '../config/config.js';
import { isLoopback } from '../config/config.js';
import { formSecretOf } from '../console/csrf.js';
import { silenceRequestsOf } from '../console/silence-requests.js';
import { readRelayStatus } from '../console/status.js';
import { type BullDeliveryQueue, CHANNEL_KINDS } from '../enqueue/delivery-queue.js';
import type { ConsoleServices } from '../http/routes/console.js';
import { listIncidents } from '../incidents/list-incidents.js';
import type { RedisAlertStore } from '../store/alert-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import { IncidentIndex } from '../store/incident-index.js';

/** Per probe of the header strip: an Alertmanager that hangs costs a page view at most this. */
const STATUS_TIMEOUT_MS = 1500;

export function consoleServicesOf(
  config: Config,
  parts: {
    redis: Redis;
    alerts: RedisAlertStore;
    deliveries: DeliveryStore;
    queue: BullDeliveryQueue;
    interactions: BullInteractionQueue;
  },
  now?: () => number,
): ConsoleServices {
  const { policy } = config;
  const lists = {
    index: new IncidentIndex(parts.redis, policy.redis_prefix),
    alerts: parts.alerts,
    deliveries: parts.deliveries,
  };
  const gate = new SlackPaceGate(parts.redis, policy.redis_prefix);
  const slackChannels = [...new Set(policy.routes.flatMap((r) => r.slack))];
  const boardQueues: Queue[] = [
    ...CHANNEL_KINDS.map((kind) => parts.queue.queues[kind] as Queue),
    parts.interactions.queue as Queue,
  ];
  return {
    alerts: parts.alerts,
    deliveries: parts.deliveries,
    queue: parts.queue,
    interactions: parts.interactions,
    boardQueues,
    listIncidents: (filter) => listIncidents(filter, { ...lists, ...(now ? { now } : {}) }),
    silenceRequests: (incidentId) => silenceRequestsOf(parts.interactions.queue, incidentId),
    status: () =>
      readRelayStatus({
        countJobs: () => parts.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active'),
        gateState: (channel) => gate.state(channel),
        pingRedis: () => parts.redis.ping(),
        slackChannels,
        // As the sender selection in app/relay.ts decides it: no token (or no SMTP URL) means preview.
        preview: { slack: !config.slack.token, email: !config.smtp.url },
        alertmanagerUrls: config.alertmanagerUrls,
        timeoutMs: STATUS_TIMEOUT_MS,
        now: now ?? Date.now,
      }),
    auth: { token: config.webhookToken, loopback: isLoopback(config.host) },
    formSecret: formSecretOf(config.ackSecret, config.webhookToken),
    silenceDurations: policy.silence_durations,
    alertmanagerUrls: config.alertmanagerUrls,
    maxBodyBytes: config.maxBodyBytes,
    ...(now ? { now } : {}),
  };
}
