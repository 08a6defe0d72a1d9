/**
 * Delivery failures, classified once so the worker knows what to do (DESIGN.md §Style):
 * permanent → dead letter at once; rate limited → wait without spending an attempt; transient → backoff.
 */
export class PermanentDeliveryError extends Error {
  override name = 'PermanentDeliveryError';
}

export class TransientDeliveryError extends Error {
  override name = 'TransientDeliveryError';
  /** True when the request may have reached the destination (a timeout): a resend may duplicate. */
  constructor(
    message: string,
    readonly ambiguous = false,
  ) {
    super(message);
  }
}

/** The destination asked us to wait (Slack 429, or our own per-channel pace). Not a failure. */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  constructor(
    readonly waitMs: number,
    readonly reason: 'pace' | '429' | 'lock',
  ) {
    super(`wait ${waitMs} ms (${reason})`);
  }
}

/** Slack rejected the blocks; the message is resent as plain text (and logged). */
export class InvalidBlocksError extends Error {
  override name = 'InvalidBlocksError';
}
