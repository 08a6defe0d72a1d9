/**
 * Prometheus metrics. Names are part of the interface: deploy/monitoring's rules and dashboards use them.
 * One registry per relay instance (not prom-client's global one) so tests can build many apps in a process.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Label values must come from a known set: a label fed raw input (a severity an alert made up) makes one
 * series per value, and 3,000 made-up severities made a 3.2 MB /metrics. Anything else is counted as 'other'.
 */
export const SEVERITY_LABELS: ReadonlySet<string> = new Set(['critical', 'warning', 'info', 'none']);
const HTTP_STATUS_CODES =
  '200 201 202 204 301 302 303 304 400 401 403 404 405 409 410 413 415 422 429 499 500 502 503 504';
export const HTTP_STATUS_LABELS: ReadonlySet<string> = new Set(HTTP_STATUS_CODES.split(' '));
export function boundedLabel(value: string, known: ReadonlySet<string>): string {
  return known.has(value) ? value : 'other';
}

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
    webhooksIgnored: new Counter({
      name: 'relay_webhooks_ignored_total',
      help: 'Valid webhooks answered 200 that changed nothing and opened nothing, by reason (no_firing_alert: no firing alert and no open incident)',
      labelNames: ['reason'] as const,
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
    writeAheadEntries: new Gauge({
      name: 'relay_write_ahead_entries',
      help: 'Stored webhooks whose jobs the write-ahead pump has not queued yet, read from Redis at scrape time',
      registers,
    }),
    writeAheadOldestSeconds: new Gauge({
      name: 'relay_write_ahead_oldest_seconds',
      help: "Age of the oldest write-ahead entry (the pump's lag), 0 when there is none; read at scrape time",
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
    escalations: new Counter({
      name: 'relay_escalations_total',
      help: "Escalation ladder steps taken (a route's escalate: list; step counts from 1)",
      labelNames: ['route', 'step'] as const,
      registers,
    }),
    ackSeconds: new Histogram({
      name: 'relay_ack_seconds',
      help: 'Time from an incident’s first notification (or its last lapsed acknowledgement) to its acknowledgement',
      buckets: [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400],
      registers,
    }),
    oncallUnknown: new Counter({
      name: 'relay_oncall_unknown_total',
      help: 'Escalation steps that could not tell who is on call in a schedule (unreadable calendar, no matching member)',
      labelNames: ['schedule'] as const,
      registers,
    }),
    oncallErrors: new Counter({
      name: 'relay_oncall_errors_total',
      help: 'Schedule faults found by the on-call resolver: failed iCal URL fetches, and answers that met an event whose SUMMARY names no member',
      labelNames: ['schedule'] as const,
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
      help: 'Messages sent twice: Slack root copies found in the channel (and deleted); emails resent after a send whose outcome was unknown (no look-up exists for mail)',
      labelNames: ['channel'] as const,
      registers,
    }),
    stormDigests: new Counter({
      name: 'relay_storm_digests_total',
      help: 'Storm digests started (one Slack message or one email thread per storm and destination), by channel',
      labelNames: ['channel'] as const,
      registers,
    }),
    stormFolded: new Counter({
      name: 'relay_storm_folded_total',
      help: 'First messages of incidents folded into a storm digest instead of posted on their own, by channel',
      labelNames: ['channel'] as const,
      registers,
    }),
    flapsShown: new Counter({
      name: 'relay_flap_episodes_reused_total',
      help: "Firing episodes of a flapping group shown on an earlier episode's message instead of a new one, by channel",
      labelNames: ['channel'] as const,
      registers,
    }),
    slackMessagesAdopted: new Counter({
      name: 'relay_slack_messages_adopted_total',
      help: 'Slack messages (kind: root or reply) found by their metadata after a post whose answer was lost, and adopted instead of posted again',
      labelNames: ['kind'] as const,
      registers,
    }),
    slackDuplicatesDeleted: new Counter({
      name: 'relay_slack_duplicates_deleted_total',
      help: 'Late copies of a Slack root message (committed by Slack after the relay looked) deleted with chat.delete',
      registers,
    }),
    slackLookupUnavailable: new Counter({
      name: 'relay_slack_lookup_unavailable_total',
      help: 'Slack look-ups (of a root or reply whose answer was lost) that could not run (missing_scope, not_in_channel, channel_not_found) and fell back to posting',
      labelNames: ['reason'] as const,
      registers,
    }),
    previewMode: new Gauge({
      name: 'relay_preview_mode',
      help: '1 when the channel writes to the outbox folder instead of sending',
      labelNames: ['channel'] as const,
      registers,
    }),
    redisReplicas: new Gauge({
      name: 'relay_redis_replicas',
      help: 'Redis replicas that confirmed the last commit (WAIT) or were in sync at the last check; compare with relay_redis_min_replicas',
      registers,
    }),
    redisMinReplicas: new Gauge({
      name: 'relay_redis_min_replicas',
      help: 'REDIS_MIN_REPLICAS: replicas a commit must reach before a webhook is answered 2xx (below it: 503)',
      registers,
    }),
    alertsResolvedByCheck: new Counter({
      name: 'relay_alertmanager_resolved_alerts_total',
      help: 'Alerts the relay resolved because no answering Alertmanager reports them any more (it sends no resolve for an alert silenced or inhibited when it ended)',
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
