/**
 * Alertmanager webhook payload, version 4. Unknown fields are tolerated (newer Alertmanagers add some);
 * `notification_reason` (0.32+) and `routeLabels` (0.34+) are accepted when present.
 */
import { z } from 'zod';

/**
 * RFC 3339 exactly as Alertmanager (Go's time.RFC3339Nano) writes it: a four-digit year, a date that exists,
 * a time zone. `Date.parse` alone takes "0", "2026-02-30T…" and "+275760-…", which then render as nonsense
 * ("Firing since 00:00 UTC (9827d 15h)").
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;
/** Go's zero time: Alertmanager's "no end" in endsAt. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function isRfc3339(value: string): boolean {
  const m = RFC3339.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (days === undefined || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return !Number.isNaN(Date.parse(value));
}

const RFC3339_MESSAGE = 'must be an RFC 3339 timestamp such as 2026-11-26T05:00:00Z';
const startsAtSchema = z
  .string()
  .refine((s) => isRfc3339(s) && s !== ZERO_TIME, `${RFC3339_MESSAGE} (and not the zero time)`);
const endsAtSchema = z.string().refine(isRfc3339, `${RFC3339_MESSAGE}, or ${ZERO_TIME} for no end`);
const alertStatus = z.enum(['firing', 'resolved']);

/** The webhook schema over a given label-set schema (see fastWebhookSchema for why there are two). */
function webhookSchemaWith(labelSet: z.ZodType<Record<string, string>>) {
  const alert = z.looseObject({
    status: alertStatus,
    labels: labelSet,
    annotations: labelSet.default({}),
    startsAt: startsAtSchema,
    endsAt: endsAtSchema,
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
