/**
 * Prometheus metrics. Names are part of the interface: deploy/monitoring's rules and dashboards use them.
 * One registry per relay instance (not prom-client's global one) so tests can build many apps in a process.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'relay_http_requests_total',
      help: 'HTTP requests by route and status code',
      labelNames: ['route', 'status'] as const,
      registers,
    }),
    alertsReceived: new Counter({
      name: 'relay_alerts_received_total',
      help: 'Alerts received in accepted webhooks, by alert status and severity',
      labelNames: ['status', 'severity'] as const,
      registers,
    }),
    webhooksDeduplicated: new Counter({
      name: 'relay_webhooks_deduplicated_total',
      help: 'Valid webhooks that changed nothing (HA copies, retries, repeats) and enqueued nothing',
      registers,
    }),
    requestsRejected: new Counter({
      name: 'relay_requests_rejected_total',
      help: 'Webhook requests rejected, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    unroutedSeverity: new Counter({
      name: 'relay_unrouted_severity_total',
      help: 'Incidents whose severity matched no route and went to the fallback route',
      registers,
    }),
    enqueueDuration: new Histogram({
      name: 'relay_enqueue_duration_seconds',
      help: 'Time from a parsed webhook to its snapshot and jobs being stored in Redis',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    queueJobs: new Gauge({
      name: 'relay_queue_jobs',
      help: 'Delivery jobs by state, read from Redis at scrape time',
      labelNames: ['state'] as const,
      registers,
    }),
    deliveries: new Counter({
      name: 'relay_deliveries_total',
      help: 'Delivery outcomes by channel: delivered, previewed, dead_lettered',
      labelNames: ['channel', 'outcome'] as const,
      registers,
    }),
    deliveryLatency: new Histogram({
      name: 'relay_delivery_latency_seconds',
      help: 'Time from webhook accepted to the destination confirming the message',
      labelNames: ['channel'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    deliveryRetries: new Counter({
      name: 'relay_delivery_retries_total',
      help: 'Delivery attempts that failed transiently and will be retried',
      labelNames: ['channel'] as const,
      registers,
    }),
    rateLimitWaits: new Counter({
      name: 'relay_rate_limit_waits_total',
      help: 'Times a Slack call waited for the per-channel pace or a 429 Retry-After',
      labelNames: ['channel'] as const,
      registers,
    }),
    remindersSent: new Counter({
      name: 'relay_reminders_sent_total',
      help: 'Reminders sent for incidents still firing',
      labelNames: ['channel'] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: 'relay_dead_letters_total',
      help: 'Delivery jobs that failed for good and were kept as dead letters',
      labelNames: ['channel'] as const,
      registers,
    }),
    duplicatePosts: new Counter({
      name: 'relay_duplicate_posts_total',
      help: 'Messages possibly sent twice because a worker died between the send and its record',
      labelNames: ['channel'] as const,
      registers,
    }),
    previewMode: new Gauge({
      name: 'relay_preview_mode',
      help: '1 when the channel writes to the outbox folder instead of sending',
      labelNames: ['channel'] as const,
      registers,
    }),
    contextUnavailable: new Counter({
      name: 'relay_context_unavailable_total',
      help: 'Notifications sent without cold-chain context because the context source failed',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
