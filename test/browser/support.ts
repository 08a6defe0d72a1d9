/**
 * Finding a packaged Chromium for playwright-core (no browser download is possible here). Debian's
 * `chromium` package is a real browser; Ubuntu's `chromium`/`chromium-browser` packages are stubs that only
 * point at the snap, which cannot run headless under a test runner. Outside CI a missing browser skips the
 * browser suite with one line saying so; under TEST_REQUIRE_ALL=1 (CI) it fails the suite.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** A launcher script that hands over to the snap is not a browser. */
function isSnapStub(path: string): boolean {
  if (statSync(path).size > 64 * 1024) return false; // a real binary, not a script
  const text = readFileSync(path, 'utf8');
  return text.startsWith('#!') && /\/snap\/|snap install|snap run/.test(text);
}

export type BrowserLookup = { found: true; path: string } | { found: false; reason: string };

export function findChromium(): BrowserLookup {
  const wanted = process.env.CHROMIUM_PATH;
  const paths = wanted ? [wanted] : CANDIDATES;
  const stubs: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) continue;
    if (isSnapStub(path)) stubs.push(path);
    else return { found: true, path };
  }
  return {
    found: false,
    reason: stubs.length
      ? `${stubs.join(', ')} only launches the snap (Ubuntu's stub); install Debian's chromium package or set CHROMIUM_PATH`
      : `no chromium at ${paths.join(' or ')} (apt-get install chromium, or set CHROMIUM_PATH)`,
  };
}

/** Whether a missing browser must fail the run instead of skipping the suite (scripts/test.sh under CI). */
export const browserRequired = process.env.TEST_REQUIRE_ALL === '1';

export const LAUNCH_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu'];
