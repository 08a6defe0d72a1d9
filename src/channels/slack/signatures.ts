/**
 * The two signed things the relay accepts from people: Slack's interaction requests (v0 HMAC-SHA256 of
 * `v0:{timestamp}:{raw body}` with SLACK_SIGNING_SECRET) and the acknowledge links in emails (an HMAC over
 * the incident and an expiry with RELAY_ACK_SECRET). Pure functions; comparisons in constant time.
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from '../../http/auth.js';

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

export interface AckClaims {
  groupId: string;
  incidentId: string;
  /** Who the link was sent to, shown as the acknowledger. */
  who: string;
  /** Expiry, seconds since epoch. */
  exp: number;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

export function signAckToken(secret: string, claims: AckClaims): string {
  const body = b64(JSON.stringify([claims.groupId, claims.incidentId, claims.who, claims.exp]));
  const mac = createHmac('sha256', secret).update(`ack:${body}`).digest('base64url');
  return `${body}.${mac}`;
}

export type AckTokenResult =
  | { ok: true; claims: AckClaims }
  | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

export function verifyAckToken(secret: string, token: string, nowSeconds: number): AckTokenResult {
  const [body, mac, extra] = token.split('.');
  if (!body || !mac || extra !== undefined) return { ok: false, reason: 'malformed' };
  const expected = createHmac('sha256', secret).update(`ack:${body}`).digest('base64url');
  if (!safeEqual(expected, mac)) return { ok: false, reason: 'forged' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) return { ok: false, reason: 'malformed' };
  const [groupId, incidentId, who, exp] = parsed as [string, string, string, number];
  if (typeof exp !== 'number' || exp < nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { groupId, incidentId, who, exp } };
}
