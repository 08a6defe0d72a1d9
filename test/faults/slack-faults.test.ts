/**
 * Slack misbehaving while notifications stream in: server errors, calls that are never answered, connection
 * resets, `ok:false` (transient and permanent), 429 storms, and answers that arrive after the relay gave up
 * although Slack had posted the message. Nothing crashes, so no duplicate of any kind is allowed.
 */
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { judge } from './support/verdict.js';
import { waitUntilCalls } from './support/waits.js';
import { firing, type Severity, World } from './support/world.js';

let world: World;

beforeAll(async () => {
  world = await World.start('slack', { slackProxy: true });
});

afterAll(async () => {
  await world?.close();
});

// A scenario that failed half-way must not leave its fault switched on for the next one.
afterEach(async () => {
  await world?.slackProxy?.up();
  world?.slackProxy?.set({ kind: 'pass' });
  world.fake.rateLimitPerChannel = undefined;
});

/** `count` incidents, critical and warning alternately (info = the permanent-failure route) for one scenario. */
function incidents(id: string, count: number, severities: Severity[] = ['critical', 'warning']) {
  return Array.from({ length: count }, (_, i) => ({
    tag: `${id}-${i}`,
    payload: firing(`${id}-${i}`, severities[i % severities.length]!),
  }));
}

const accepted = (id: string) => world.poster.accepted.filter((a) => a.tag.startsWith(`${id}-`));
const SETTLE = 90_000;

describe('Slack faults', () => {
  it('HTTP 500 and 503: retried until posted', async () => {
    const id = 'slack-5xx';
    world.fake.failNext('chat.postMessage', { kind: 'http', status: 500 }, 4);
    world.fake.failNext('chat.postMessage', { kind: 'http', status: 503 }, 4);
    await world.poster.stream(incidents(id, 8), 50);
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({ id, fault: 'Slack answers 500 ×4 then 503 ×4', world, ledger, accepted: accepted(id) });
  });

  it('calls never answered (timeouts): retried, and the held posts were never committed', async () => {
    const id = 'slack-timeout';
    world.fake.failNext('chat.postMessage', { kind: 'timeout' }, 3);
    await world.poster.stream(incidents(id, 6), 50);
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({
      id,
      fault: 'Slack holds 3 posts unanswered (client timeout)',
      world,
      ledger,
      accepted: accepted(id),
    });
  });

  it('TCP resets: every connection reset for a while, then retried', async () => {
    const id = 'slack-reset';
    world.slackProxy!.set({ kind: 'reset' });
    await world.poster.stream(incidents(id, 6), 100);
    await waitUntilCalls(() => world.slackProxy!.resets >= 3, 'three reset connections');
    world.slackProxy!.set({ kind: 'pass' });
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({
      id,
      fault: 'every Slack connection reset (RST) until 3 were',
      world,
      ledger,
      accepted: accepted(id),
      notes: { resets: world.slackProxy!.resets },
    });
  });

  it('ok:false transient (internal_error, fatal_error): retried until posted', async () => {
    const id = 'slack-okfalse-transient';
    world.fake.failNext('chat.postMessage', { kind: 'error', error: 'internal_error' }, 3);
    world.fake.failNext('chat.postMessage', { kind: 'error', error: 'fatal_error' }, 2);
    await world.poster.stream(incidents(id, 6), 50);
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({
      id,
      fault: 'Slack ok:false internal_error ×3, fatal_error ×2',
      world,
      ledger,
      accepted: accepted(id),
    });
  });

  it('ok:false permanent (channel_not_found): dead-lettered with the reason, the others delivered', async () => {
    const id = 'slack-okfalse-permanent';
    await world.poster.stream(incidents(id, 6, ['critical', 'info']), 50);
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({
      id,
      fault: 'a route to a channel Slack does not know (ok:false channel_not_found)',
      world,
      ledger,
      accepted: accepted(id),
      deadLetters: { count: 3, reason: /channel_not_found/ },
    });
  });

  it('429 storm: every call rate limited for a while, waited out, none dropped', async () => {
    const id = 'slack-429';
    world.fake.rateLimitPerChannel = { perSecond: 1, retryAfterSeconds: 1 };
    world.fake.failNext('*', { kind: 'rateLimited', retryAfterSeconds: 1 }, 20);
    const before = world.fake.rateLimitedCount;
    await world.poster.stream(incidents(id, 10), 20);
    const ledger = await world.settle(SETTLE, () => accepted(id));
    const limited = world.fake.rateLimitedCount - before;
    world.fake.rateLimitPerChannel = undefined;
    judge({
      id,
      fault: '20 injected 429s, then Slack limits each channel to 1 message/s',
      world,
      ledger,
      accepted: accepted(id),
      notes: { answered429: limited },
    });
  });

  it('late answers: Slack posts the message but answers after the relay gave up; no duplicate root', async () => {
    const id = 'slack-late';
    // Requests reach Slack at once (so it commits the post); its answers come back after slack_timeout (5 s).
    world.slackProxy!.set({ kind: 'delay', upMs: 0, downMs: 8000 });
    const before = world.fake.callsTo('chat.postMessage').length;
    await world.poster.stream(incidents(id, 4), 20);
    await waitUntilCalls(
      () => world.fake.callsTo('chat.postMessage').length - before >= 4,
      'Slack to have posted the 4 roots',
    );
    world.slackProxy!.set({ kind: 'pass' });
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({
      id,
      fault: 'Slack commits 4 posts and answers 8 s later (slack_timeout 5 s)',
      world,
      ledger,
      accepted: accepted(id),
    });
  });
  it('reset after commit: Slack posted the message but the connection died before the answer; no duplicate root', async () => {
    const id = 'slack-reset-after-commit';
    world.fake.failNext('chat.postMessage', { kind: 'reset', commit: true }, 3);
    await world.poster.stream(incidents(id, 6), 50);
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({
      id,
      fault: 'Slack commits 3 posts, then closes the connection without answering',
      world,
      ledger,
      accepted: accepted(id),
    });
  });

  it('late commit: Slack shows the post only after the relay looked for it and posted again; one root remains', async () => {
    const id = 'slack-late-commit';
    const deletedBefore = world.fake.deleted.length;
    // One incident at a time, so the call that releases the held post is the relay's own second post of it.
    for (const item of incidents(id, 2, ['critical'])) {
      world.fake.failNext('chat.postMessage', { kind: 'lateCommit' }, 1);
      await world.poster.stream([item], 0);
      await world.settle(SETTLE, () => accepted(id));
    }
    const ledger = await world.settle(SETTLE, () => accepted(id));
    judge({
      id,
      fault:
        'Slack holds a post unanswered and commits it right after the relay posted again, for 2 incidents',
      world,
      ledger,
      accepted: accepted(id),
      notes: { copiesDeleted: world.fake.deleted.length - deletedBefore },
    });
  });
});
