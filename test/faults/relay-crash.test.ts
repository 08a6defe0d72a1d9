/**
 * The relay process killed while Slack calls and SMTP sends are in flight (both made slow by the proxies so
 * that they are), then started again on the same Redis: SIGKILL (no chance to clean up) and SIGTERM (a
 * graceful stop within shutdown_grace). The poster keeps retrying while the relay is down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { slackRoots } from './support/accounting.js';
import { judge } from './support/verdict.js';
import { waitUntilCalls } from './support/waits.js';
import { CRITICAL, firing, World } from './support/world.js';

let world: World | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function relayKilledInFlight(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const id = `relay-${signal.toLowerCase()}`;
  world = await World.start(id, {
    slackProxy: true,
    smtpProxy: true,
    // Slack answers in about 3 s here: the timeout must model a hung Slack, not this slowness.
    delivery: { slack_timeout: 10, smtp_timeout: 10, shutdown_grace: 8 },
  });
  const w = world;
  // Requests reach Slack soon (it commits the post) and answers come back late: a kill then falls between
  // Slack's ok and the relay's record of the ts, the window where a blind retry would post twice.
  w.slackProxy!.set({ kind: 'delay', upMs: 100, downMs: 3000 });
  w.smtpProxy!.set({ kind: 'delay', upMs: 150, downMs: 150 });
  const items = Array.from({ length: 12 }, (_, i) => ({ tag: `${id}-${i}`, payload: firing(`${id}-${i}`) }));
  const streaming = w.poster.stream(items, 100);
  await waitUntilCalls(
    () =>
      w.poster.accepted.filter((a) => slackRoots(w.fake, a.incidentId, CRITICAL).length > 0).length >= 2 &&
      w.sink.messages.length >= 1,
    'two Slack roots and one mail (so more calls are in flight)',
  );
  const mailsBefore = w.sink.messages.length;
  const rootsBefore = w.fake.topLevelMessages(CRITICAL).length;
  const open = { slack: w.slackProxy!.openConnections, smtp: w.smtpProxy!.openConnections };
  await w.relay.kill(signal);
  const exit = w.relay.exitCode();
  w.slackProxy!.set({ kind: 'pass' });
  w.smtpProxy!.set({ kind: 'pass' });
  await w.relay.start();
  await streaming;
  // A dead worker's jobs wait for BullMQ's stalled-job check (30 s) and the delivery lock to be taken over.
  const ledger = await w.settle(200_000);
  judge({
    id,
    fault: `relay ${signal} with Slack calls and SMTP sends in flight, restarted`,
    world: w,
    ledger,
    accepted: w.poster.accepted,
    crashes: signal === 'SIGKILL' ? 1 : 0,
    notes: {
      exit: String(exit),
      slackConnectionsAtKill: open.slack,
      smtpConnectionsAtKill: open.smtp,
      mailsBeforeKill: mailsBefore,
      rootsBeforeKill: rootsBefore,
    },
    also: () => {
      if (signal === 'SIGTERM') expect(exit, 'graceful exit code').toBe(0);
    },
  });
}

describe('relay process killed with deliveries in flight', () => {
  it('SIGKILL: every accepted notification ends delivered; no Slack duplicate, at most one email per delivery', () =>
    relayKilledInFlight('SIGKILL'));
  it('SIGTERM: in-flight deliveries finish or are resumed; nothing lost, nothing twice', () =>
    relayKilledInFlight('SIGTERM'));
});
