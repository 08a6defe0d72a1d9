export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold?: number;
  /** How long the circuit stays open before one trial call is let through. */
  coolDownMs?: number;
  /** Milliseconds since the epoch; injected so tests do not sleep. */
  now?: () => number;
}

/**
 * Stops calling a dependency that keeps failing, so a dead dispatch API costs each notification
 * nothing instead of a full timeout. After the cool-down a single trial call decides whether to
 * close again (success) or stay open for another cool-down (failure).
 */
export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly coolDownMs: number;
  private readonly now: () => number;
  private consecutiveFailures = 0;
  private openedAt: number | undefined;
  private trialStartedAt: number | undefined;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.coolDownMs = options.coolDownMs ?? 30_000;
    this.now = options.now ?? Date.now;
    if (!(this.failureThreshold >= 1)) throw new RangeError('failureThreshold must be at least 1');
    if (!(this.coolDownMs >= 0)) throw new RangeError('coolDownMs must not be negative');
  }

  get state(): CircuitState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.coolDownMs ? 'half-open' : 'open';
  }

  /** Whether a call may go out now. In half-open, only one trial at a time gets `true`. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    const now = this.now();
    // A trial whose outcome was never recorded must not wedge the breaker half-open forever.
    if (this.trialStartedAt !== undefined && now - this.trialStartedAt < this.coolDownMs) return false;
    this.trialStartedAt = now;
    return true;
  }

  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.openedAt = undefined;
    this.trialStartedAt = undefined;
  }

  recordFailure(): void {
    this.consecutiveFailures += 1;
    const trialFailed = this.openedAt !== undefined;
    if (trialFailed || this.consecutiveFailures >= this.failureThreshold) {
      this.openedAt = this.now();
      this.trialStartedAt = undefined;
    }
  }
}
