/**
 * Alertmanager webhook payload, version 4. Unknown fields are tolerated (newer Alertmanagers add some);
 * `notification_reason` (0.32+) and `routeLabels` (0.34+) are accepted when present.
 */
import { z } from 'zod';

const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 timestamp');
const alertStatus = z.enum(['firing', 'resolved']);

/** The webhook schema over a given label-set schema (see fastWebhookSchema for why there are two). */
function webhookSchemaWith(labelSet: z.ZodType<Record<string, string>>) {
  const alert = z.looseObject({
    status: alertStatus,
    labels: labelSet,
    annotations: labelSet.default({}),
    startsAt: timestamp,
    endsAt: timestamp,
    generatorURL: z.string().default(''),
    fingerprint: z.string().min(1).max(64),
  });
  const webhook = z.looseObject({
    version: z.literal('4'),
    groupKey: z.string().min(1).max(4096),
    truncatedAlerts: z.number().int().nonnegative().default(0),
    status: alertStatus,
    receiver: z.string().min(1).max(512),
    groupLabels: labelSet,
    commonLabels: labelSet,
    commonAnnotations: labelSet.default({}),
    externalURL: z.string().default(''),
    alerts: z.array(alert),
    notification_reason: z.string().optional(),
    routeLabels: labelSet.optional(),
  });
  return { alert, webhook };
}

const full = webhookSchemaWith(z.record(z.string(), z.string()));
export const alertSchema = full.alert;
/** The schema of record: the one that names the bad fields of a payload it refuses. */
export const webhookSchema = full.webhook;

/**
 * Label sets are most of a payload, and zod's record parser runs every key and every value through its
 * whole machinery (about 60% of parsing a 10-alert webhook). This one accepts a strict subset of what
 * the record accepts, in one loop, and returns the same object instead of a copy; anything it refuses
 * (including a `__proto__` key, which the record drops) goes to the full schema, so the outcome and the
 * issues reported are the full schema's own.
 */
function isLabelSet(value: unknown): value is Record<string, string> {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype)
    return false;
  for (const key in value) {
    if (key === '__proto__' || typeof (value as Record<string, unknown>)[key] !== 'string') return false;
  }
  return true;
}
const fastWebhookSchema = webhookSchemaWith(z.custom<Record<string, string>>(isLabelSet)).webhook;

export type WebhookAlert = z.output<typeof alertSchema>;
export type WebhookPayload = z.output<typeof webhookSchema>;

export interface SchemaIssue {
  path: string;
  message: string;
}

export type ParseResult = { ok: true; payload: WebhookPayload } | { ok: false; issues: SchemaIssue[] };

export function parseWebhook(body: unknown, maxAlerts: number): ParseResult {
  const fast = fastWebhookSchema.safeParse(body);
  if (fast.success) return { ok: true, payload: capAlerts(fast.data, maxAlerts) };
  const parsed = webhookSchema.safeParse(body);
  if (!parsed.success) {
    return {
      ok: false,
      issues: parsed.error.issues
        .slice(0, 20)
        .map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
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
