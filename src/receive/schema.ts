/**
 * Alertmanager webhook payload, version 4. Unknown fields are tolerated (newer Alertmanagers add some);
 * `notification_reason` (0.32+) and `routeLabels` (0.34+) are accepted when present.
 */
import { z } from 'zod';

const labelSet = z.record(z.string(), z.string());
const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 timestamp');
const alertStatus = z.enum(['firing', 'resolved']);

export const alertSchema = z.looseObject({
  status: alertStatus,
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: timestamp,
  generatorURL: z.string().default(''),
  fingerprint: z.string().min(1).max(64),
});

export const webhookSchema = z.looseObject({
  version: z.literal('4'),
  groupKey: z.string().min(1).max(4096),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status: alertStatus,
  receiver: z.string().min(1).max(512),
  groupLabels: labelSet,
  commonLabels: labelSet,
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().default(''),
  alerts: z.array(alertSchema),
  notification_reason: z.string().optional(),
  routeLabels: labelSet.optional(),
});

export type WebhookAlert = z.output<typeof alertSchema>;
export type WebhookPayload = z.output<typeof webhookSchema>;

export interface SchemaIssue {
  path: string;
  message: string;
}

export type ParseResult = { ok: true; payload: WebhookPayload } | { ok: false; issues: SchemaIssue[] };

export function parseWebhook(body: unknown, maxAlerts: number): ParseResult {
  const parsed = webhookSchema.safeParse(body);
  if (!parsed.success) {
    return {
      ok: false,
      issues: parsed.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
    };
  }
  return { ok: true, payload: capAlerts(parsed.data, maxAlerts) };
}

/**
 * Rejecting a large group would make Alertmanager resend it forever, so beyond the cap the relay keeps the
 * first alerts and counts the rest as truncated, exactly as Alertmanager's own max_alerts does.
 */
export function capAlerts(payload: WebhookPayload, maxAlerts: number): WebhookPayload {
  if (payload.alerts.length <= maxAlerts) return payload;
  return {
    ...payload,
    alerts: payload.alerts.slice(0, maxAlerts),
    truncatedAlerts: payload.truncatedAlerts + payload.alerts.length - maxAlerts,
  };
}
