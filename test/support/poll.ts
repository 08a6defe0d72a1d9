import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it returns true. A check that throws counts as "not yet"; on timeout the error says
 * what was awaited (`describe` may add what was seen so far) and what the check last threw.
 */
export async function pollUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  describe: () => string,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `; predicate threw: ${lastError.message}` : '';
      throw new Error(`${describe()}${cause}`);
    }
    await sleep(intervalMs);
  }
}
