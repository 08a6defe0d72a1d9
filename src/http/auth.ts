import type { MiddlewareHandler } from 'hono';
import { safeEqual } from '../domain/safe-equal.js';
import { ApiError } from './errors.js';

export { safeEqual };

/**
 * The token as Alertmanager's http_config sends it: `authorization` (Bearer) or `basic_auth` (the token is
 * the password; the user name is ignored).
 */
export function presentedToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return value;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

export function isAuthorized(expected: string | undefined, header: string | undefined): boolean {
  if (expected === undefined) return true;
  const token = presentedToken(header);
  return token !== undefined && safeEqual(token, expected);
}

export interface OperatorAuth {
  /** RELAY_WEBHOOK_TOKEN; without it the console, /api and /admin are open only on a loopback HOST. */
  token: string | undefined;
  /** Whether HOST is a loopback address (config.isLoopback). */
  loopback: boolean;
}

/**
 * Whether a request may see the operator's pages and APIs: the webhook token as Bearer or as the basic-auth
 * password (any user name), or no token configured on a loopback HOST, the webhook's own rule. Config refuses
 * a non-loopback HOST without a token at start; the loopback check here keeps the rule true on its own.
 */
export function isOperator(auth: OperatorAuth, header: string | undefined): boolean {
  if (auth.token === undefined) return auth.loopback;
  return isAuthorized(auth.token, header);
}

/** The challenge that makes a browser show its login prompt (user name: anything, password: the token). */
export const BASIC_CHALLENGE = 'Basic realm="relay", charset="UTF-8"';

/**
 * Guards the operator's routes. `browser` pages answer 401 with a short HTML page and the Basic challenge, so
 * the browser asks for the token; `api` routes answer the JSON error every endpoint uses, with the same
 * challenge (a 401 must name one).
 */
export function requireOperator(auth: OperatorAuth, kind: 'browser' | 'api'): MiddlewareHandler {
  return async (c, next) => {
    if (isOperator(auth, c.req.header('authorization'))) return next();
    c.header('WWW-Authenticate', BASIC_CHALLENGE);
    if (kind === 'api') throw new ApiError('unauthorized', 'unauthorized');
    return c.html(
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in</title></head><body><h1>Log in to the relay</h1><p>Use any user name and the webhook token (RELAY_WEBHOOK_TOKEN) as the password.</p></body></html>',
      401,
    );
  };
}
