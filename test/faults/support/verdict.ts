/**
 * The guarantees every scenario checks, after writing its figures: nothing accepted is lost; no duplicate
 * where nothing crashed; after crashes, no Slack duplicate and at most one duplicate email per crash per
 * email delivery; permanent failures dead-lettered with their reason.
 */
import { expect } from 'vitest';
import { describeUndelivered, type Ledger } from './accounting.js';
import type { Accepted } from './poster.js';
import { writeFigures } from './report.js';
import type { World } from './world.js';

export interface Verdict {
  id: string;
  fault: string;
  world: World;
  ledger: Ledger;
  accepted: Accepted[];
  /** Processes killed (relay or Redis); 0 means no duplicate of any kind is allowed. */
  crashes?: number;
  notes?: Record<string, number | string>;
  /** Notifications expected to be dead-lettered, and a text their reason must contain. */
  deadLetters?: { count: number; reason: RegExp };
  /**
   * Acknowledged writes the store itself may lose at a crash: webhooks answered 2xx in the `ms` before
   * `endsAt` may be lost (counted and reported), nothing accepted earlier may. Only for `appendfsync
   * everysec`, where Redis answers before its AOF write may have happened (its documentation: up to 2 s).
   */
  storeLossWindow?: { endsAt: number; ms: number };
  /** The scenario's own assertions (order, reminders stopped…), judged with the rest. */
  also?: () => void;
}

export function judge(v: Verdict): void {
  const crashes = v.crashes ?? 0;
  let failure: unknown;
  try {
    check(v, crashes);
    v.also?.();
  } catch (error) {
    failure = error;
  }
  // Written whatever the verdict, so the report shows what failed and by how much.
  writeFigures(v.id, v.fault, v.ledger, v.accepted.length, crashes, v.notes, failure);
  if (failure) throw failure;
}

function check(v: Verdict, crashes: number): void {
  const details = () => `${describeUndelivered(v.ledger)}\n${v.world.context()}`;

  expect(v.world.poster.errors, 'webhooks the relay refused for good').toEqual([]);
  expect(v.accepted.length, 'the scenario accepted nothing to account for').toBeGreaterThan(0);
  const window = v.storeLossWindow;
  const lostOutsideWindow = v.ledger.notifications.filter(
    (n) =>
      n.outcome.kind === 'lost' &&
      !(
        window &&
        n.accepted.acceptedAt >= window.endsAt - window.ms &&
        n.accepted.acceptedAt <= window.endsAt
      ),
  );
  expect(lostOutsideWindow.length, `lost notifications:\n${details()}`).toBe(0);
  expect(v.ledger.slackDuplicates, 'duplicate Slack roots').toBe(0);
  expect(v.ledger.maxEmailDuplicatesPerDelivery, 'duplicate emails of one delivery').toBeLessThanOrEqual(
    crashes,
  );

  const expected = v.deadLetters ?? { count: 0, reason: /./ };
  expect(v.ledger.deadLettered, `dead letters:\n${details()}`).toBe(expected.count);
  for (const n of v.ledger.notifications)
    if (n.outcome.kind === 'dead-lettered') expect(n.outcome.reason).toMatch(expected.reason);
}
