import type { UnavailableReason } from './types.js';

/** A lookup that failed (as opposed to "not found"); `code` is safe to use as a metric label. */
export class ContextLookupError extends Error {
  override readonly name = 'ContextLookupError';

  constructor(
    readonly code: UnavailableReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
