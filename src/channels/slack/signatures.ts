/**
 * Slack's signed interaction requests (v0 HMAC-SHA256 of `v0:{timestamp}:{raw body}` with
 * SLACK_SIGNING_SECRET). Pure functions; comparisons in constant time. The other signed thing people send,
 * the acknowledge link in emails, is channels/email/ack-link.ts.
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from '../../domain/safe-equal.js';

export const SLACK_MAX_AGE_SECONDS = 5 * 60;

export type SlackSignatureResult = { ok: true } | { ok: false; reason: string };

export function verifySlackSignature(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  rawBody: Buffer,
  nowSeconds: number,
): SlackSignatureResult {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature)
    return { ok: false, reason: 'missing X-Slack-Request-Timestamp or X-Slack-Signature' };
  const ts = Number(timestamp);
  if (!Number.isInteger(ts)) return { ok: false, reason: 'timestamp is not a number' };
  // Refusing old timestamps stops a captured request from being replayed later.
  if (Math.abs(nowSeconds - ts) > SLACK_MAX_AGE_SECONDS)
    return { ok: false, reason: 'timestamp older than 5 minutes' };
  const expected = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`;
  return safeEqual(expected, signature) ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}

export function signSlackRequest(secret: string, timestamp: number, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}
