/**
 * The acknowledge link in emails: an HMAC over the incident, the recipient and an expiry with
 * RELAY_ACK_SECRET, so the link acknowledges exactly one incident and only until it expires. Pure functions;
 * comparisons in constant time.
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from '../../domain/safe-equal.js';

/** Long enough for an email read the next morning; short enough that an old mail cannot acknowledge a new incident (ids differ anyway). */
export const ACK_LINK_LIFETIME_SECONDS = 3 * 86400;

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

/** The link an email carries: `{publicUrl}/ack/{token}`, valid for ACK_LINK_LIFETIME_SECONDS from `nowMs`. */
export function ackLink(
  publicUrl: string,
  secret: string,
  incident: { groupId: string; incidentId: string },
  who: string,
  nowMs: number,
): string {
  return `${publicUrl}/ack/${signAckToken(secret, {
    groupId: incident.groupId,
    incidentId: incident.incidentId,
    who,
    exp: Math.floor(nowMs / 1000) + ACK_LINK_LIFETIME_SECONDS,
  })}`;
}
