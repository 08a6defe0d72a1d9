import { pollUntil } from '../../support/poll.js';

/** Waits for a fault to have taken effect (generous: the machine may be loaded); fails naming it. */
export function waitUntilCalls(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  return pollUntil(check, timeoutMs, () => `timed out waiting for ${what}`, 20);
}
