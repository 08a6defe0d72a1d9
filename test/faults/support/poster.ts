/**
 * Posts webhooks the way Alertmanager does: a non-2xx answer or a connection error is retried (after a short
 * pause) until the relay answers 2xx; only then is the notification "accepted" and owed an outcome.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WebhookPayload } from '../../../src/receive/schema.js';
import { postJson } from '../../support/http.js';

export interface Accepted {
  /** The scenario's name for this webhook. */
  tag: string;
  payload: WebhookPayload;
  incidentId: string;
  /** 'accepted' or 'duplicate' (a retry whose first attempt was stored although its answer was lost). */
  status: string;
  /** When the first attempt was sent (ms). */
  sentAt: number;
  /** When the relay answered 2xx (ms): the clock of "time to outcome" starts here. */
  acceptedAt: number;
  attempts: number;
}

export class Poster {
  readonly accepted: Accepted[] = [];
  /** Non-2xx answers and connection errors seen, by status (0 = no answer). */
  readonly refusals = new Map<number, number>();
  /** Webhooks the relay refused for good (4xx): a scenario fails on any. */
  readonly errors: string[] = [];
  /** Webhooks never accepted within giveUpMs: owed nothing, but reported. */
  readonly gaveUp: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly url: () => string,
    /** How long to keep retrying one webhook before giving up (Alertmanager gives up too, eventually). */
    private readonly giveUpMs = 120_000,
    private readonly retryPauseMs = 200,
  ) {}

  /** Posts until a 2xx answer; a webhook the relay never accepted is not owed anything and not recorded. */
  async post(tag: string, payload: WebhookPayload): Promise<Accepted | undefined> {
    const sentAt = Date.now();
    for (let attempts = 1; Date.now() - sentAt < this.giveUpMs; attempts++) {
      let status = 0;
      try {
        const res = await postJson(`${this.url()}/webhook/alertmanager`, payload);
        status = res.status;
        if (status >= 200 && status < 300) {
          const body = res.json() as { incidentId: string; status: string };
          const accepted: Accepted = {
            tag,
            payload,
            incidentId: body.incidentId,
            status: body.status,
            sentAt,
            acceptedAt: Date.now(),
            attempts,
          };
          this.accepted.push(accepted);
          return accepted;
        }
        if (status >= 400 && status < 500 && status !== 429)
          throw new Error(`relay refused ${tag} for good: ${status} ${res.body}`);
      } catch (error) {
        if (status >= 400 && status < 500) throw error;
      }
      this.refusals.set(status, (this.refusals.get(status) ?? 0) + 1);
      await sleep(this.retryPauseMs);
    }
    this.gaveUp.push(tag);
    return undefined;
  }

  /** Starts a post without waiting for it; `settled()` waits for all of them. */
  start(tag: string, payload: WebhookPayload): void {
    const p = this.post(tag, payload).then(
      () => {},
      (error: unknown) => {
        this.errors.push((error as Error).message);
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Posts `payloads` one after another, `gapMs` apart, each retried on its own (as Alertmanager's groups are). */
  async stream(items: { tag: string; payload: WebhookPayload }[], gapMs: number): Promise<void> {
    for (const item of items) {
      this.start(item.tag, item.payload);
      await sleep(gapMs);
    }
    await this.settled();
  }

  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }
}
