import { safeEqual } from '../domain/safe-equal.js';

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
