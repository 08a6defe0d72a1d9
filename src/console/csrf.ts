/**
 * CSRF protection for the console's POST forms (acknowledge, silence, retry). The console has no session
 * (the browser sends the token by basic auth on every request, cross-site ones included), so each form
 * carries a token that only the relay can make: an HMAC over the form's own action path and an expiry.
 * A page from another site cannot read the console's pages (no CORS, frame-ancestors 'none'), so it cannot
 * get one; a token for one incident's form is no good for another's. Pure functions, constant-time compare.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from '../domain/safe-equal.js';

/** A page left open over a shift still posts; an old token cannot be replayed for long. */
export const CSRF_LIFETIME_SECONDS = 12 * 3600;

const macOf = (secret: string, path: string, exp: number) =>
  createHmac('sha256', secret).update(`console-form\u0000${path}\u0000${exp}`).digest('base64url');

export function signFormToken(secret: string, path: string, nowMs: number): string {
  const exp = Math.floor(nowMs / 1000) + CSRF_LIFETIME_SECONDS;
  return `${exp}.${macOf(secret, path, exp)}`;
}

export type FormTokenVerdict =
  | { ok: true }
  | { ok: false; reason: 'missing' | 'malformed' | 'forged' | 'expired' };

export function verifyFormToken(
  secret: string,
  path: string,
  token: string | undefined,
  nowMs: number,
): FormTokenVerdict {
  if (!token) return { ok: false, reason: 'missing' };
  const match = /^(\d{1,12})\.([\w-]{43})$/.exec(token);
  if (!match) return { ok: false, reason: 'malformed' };
  const exp = Number(match[1]);
  if (!safeEqual(macOf(secret, path, exp), match[2] as string)) return { ok: false, reason: 'forged' };
  if (exp < Math.floor(nowMs / 1000)) return { ok: false, reason: 'expired' };
  return { ok: true };
}

/**
 * The key: RELAY_ACK_SECRET, else the webhook token, else (loopback without a token) one made at start, so
 * forms of a page served before a restart are refused once and work after a reload.
 */
export function formSecretOf(ackSecret: string | undefined, webhookToken: string | undefined): string {
  return ackSecret ?? webhookToken ?? randomBytes(32).toString('hex');
}
