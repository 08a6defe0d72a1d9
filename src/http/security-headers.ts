/**
 * Security headers for the pages people open in a browser (the console, bull-board). The console has no
 * script at all; bull-board loads its own bundle from /admin/queues/static and styles its loading screen
 * inline, so its policy allows inline styles (never inline scripts) and Google's font stylesheet it links.
 */
import type { MiddlewareHandler } from 'hono';

const CONSOLE_CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const BULL_BOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
  "font-src 'self' https://fonts.gstatic.com",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ');

export type PageKind = 'console' | 'bull-board';

export function securityHeaders(kind: PageKind): MiddlewareHandler {
  const csp = kind === 'console' ? CONSOLE_CSP : BULL_BOARD_CSP;
  return async (c, next) => {
    await next();
    c.res.headers.set('Content-Security-Policy', csp);
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
    c.res.headers.set('X-Frame-Options', 'DENY');
    c.res.headers.set('Referrer-Policy', 'same-origin');
    // Pages show live state and names; a shared proxy or the back button must not serve a stale copy.
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  };
}
