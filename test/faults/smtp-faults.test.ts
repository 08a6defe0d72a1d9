/**
 * The SMTP server misbehaving while critical notifications (Slack + email) stream in: 421 and 450 (transient),
 * 550 (permanent), a slow server, a server that takes the message body and never answers, a server that is
 * down. Nothing crashes, so no duplicate is allowed; and a stuck mail server must not hold back Slack.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { slackRoots } from './support/accounting.js';
import { judge } from './support/verdict.js';
import { waitUntilCalls } from './support/waits.js';
import { CRITICAL, firing, World } from './support/world.js';

let world: World;

beforeAll(async () => {
  // smtp_timeout 10 s: far above what the healthy Slack path needs, so "Slack first" is an order, not a race.
  world = await World.start('smtp', { smtpProxy: true, delivery: { smtp_timeout: 10 } });
});

afterAll(async () => {
  await world?.close();
});

// A scenario that failed half-way must not leave its fault switched on for the next one.
afterEach(async () => {
  await world?.smtpProxy?.up();
  world?.smtpProxy?.set({ kind: 'pass' });
});

function incidents(id: string, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    tag: `${id}-${i}`,
    payload: firing(`${id}-${i}`, 'critical'),
  }));
}

const accepted = (id: string) => world.poster.accepted.filter((a) => a.tag.startsWith(`${id}-`));
const SETTLE = 90_000;

describe('SMTP faults', () => {
  it('421 and 450: retried until sent', async () => {
    const id = 'smtp-4xx';
    world.sink.failNext({ code: 421 }, 2);
    world.sink.failNext({ code: 450 }, 2);
    await world.poster.stream(incidents(id, 6), 50);
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({ id, fault: 'SMTP 421 ×2 then 450 ×2 at DATA', world, ledger, accepted: accepted(id) });
  });

  it('550: that mail is dead-lettered with the reason, the rest delivered', async () => {
    const id = 'smtp-550';
    world.sink.failNext({ code: 550 }, 1);
    await world.poster.stream(incidents(id, 4), 50);
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({
      id,
      fault: 'SMTP 550 for one mail',
      world,
      ledger,
      accepted: accepted(id),
      deadLetters: { count: 1, reason: /550/ },
    });
  });

  it('a slow server: every packet delayed, all sent once', async () => {
    const id = 'smtp-slow';
    world.smtpProxy!.set({ kind: 'delay', upMs: 150, downMs: 150 });
    await world.poster.stream(incidents(id, 4), 50);
    const ledger = await world.settle(SETTLE, () => accepted(id));
    world.smtpProxy!.set({ kind: 'pass' });
    judge({ id, fault: 'every SMTP packet delayed 150 ms each way', world, ledger, accepted: accepted(id) });
  });

  it('hang after DATA: Slack is not held back, and the held mails are retried after smtp_timeout', async () => {
    const id = 'smtp-hang';
    // Every mail hangs (more of them than the worker has slots) until every Slack root is posted.
    world.smtpProxy!.set({ kind: 'hangAfterData', mails: 1_000_000 });
    await world.poster.stream(incidents(id, 12), 20);
    await waitUntilCalls(
      () =>
        accepted(id).length === 12 &&
        accepted(id).every((a) => slackRoots(world.fake, a.incidentId, CRITICAL).length > 0),
      'every Slack root to be posted while every mail hangs',
    );
    const held = world.smtpProxy!.hung;
    // Order, not time: every root was out before the relay gave up on the first held mail (smtp_timeout).
    const lastRoot = Math.max(
      ...accepted(id).map((a) => Number(slackRoots(world.fake, a.incidentId, CRITICAL)[0]!.ts) * 1000),
    );
    const firstGaveUp = world.smtpProxy!.hungClosedAt[0] ?? Number.POSITIVE_INFINITY;
    world.smtpProxy!.set({ kind: 'pass' });
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({
      id,
      fault: 'SMTP server silent after the message body until every Slack root is posted (smtp_timeout 10 s)',
      world,
      ledger,
      accepted: accepted(id),
      notes: { mailsHeld: held },
      also: () =>
        expect(
          lastRoot,
          'the last Slack root was posted after the relay gave up on a held mail',
        ).toBeLessThan(firstGaveUp),
    });
  });

  it('server down (connection refused) for a while: sent once it is back', async () => {
    const id = 'smtp-down';
    await world.smtpProxy!.down();
    await world.poster.stream(incidents(id, 4), 50);
    // Slack goes on while SMTP is down.
    await waitUntilCalls(
      () => accepted(id).every((a) => slackRoots(world.fake, a.incidentId, CRITICAL).length > 0),
      'Slack roots of every incident while SMTP is down',
    );
    await sleep(3000);
    await world.smtpProxy!.up();
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({ id, fault: 'SMTP refuses connections for ~3 s', world, ledger, accepted: accepted(id) });
  });
});
