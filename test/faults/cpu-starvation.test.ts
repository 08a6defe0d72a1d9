/**
 * CPU starvation: a spinning process on every core while incidents fire, remind (every 2 s) and resolve.
 * Slower is allowed; wrong is not: every firing and every resolve reaches Slack and email, nothing twice,
 * and reminders stop once the incident is resolved.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { incidentMails } from './support/accounting.js';
import { CpuBurners } from './support/cpu-burners.js';
import { judge } from './support/verdict.js';
import { waitUntilCalls } from './support/waits.js';
import { firing, ONCALL, resolved, World } from './support/world.js';

let world: World | undefined;
let burners: CpuBurners | undefined;

afterAll(async () => {
  await burners?.stop();
  await world?.close();
});

const reminderMails = (w: World, incidentId: string) =>
  incidentMails(w.sink, incidentId, ONCALL).filter((m) => /^Reminder/.test(m.text ?? ''));

describe('CPU starvation', () => {
  it('burners on every core while reminders run: every firing and resolve delivered once, reminders stop', async () => {
    const id = 'cpu-starved';
    world = await World.start(id, { criticalRepeat: '2s' });
    const w = world;
    burners = CpuBurners.start();
    const tags = Array.from({ length: 8 }, (_, i) => `${id}-${i}`);
    await w.poster.stream(
      tags.map((tag, i) => ({ tag, payload: firing(tag, i % 4 === 3 ? 'warning' : 'critical') })),
      50,
    );
    const criticals = w.poster.accepted.filter((a) => a.payload.commonLabels.severity === 'critical');
    await waitUntilCalls(
      () => criticals.every((a) => reminderMails(w, a.incidentId).length >= 2),
      'two reminders for every critical incident',
      120_000,
    );
    await w.poster.stream(
      criticals.map((a) => ({ tag: `${a.tag}-resolve`, payload: resolved(a.tag) })),
      50,
    );
    const ledger = await w.settle(120_000);
    await burners.stop();
    // Reminders stop on resolve: nothing more arrives over a few reminder intervals.
    const mailsAfterSettle = w.sink.messages.length;
    const slackAfterSettle = w.fake.calls.filter((c) => c.method.startsWith('chat.')).length;
    await sleep(6000);
    const reminders = criticals.reduce((n, a) => n + reminderMails(w, a.incidentId).length, 0);
    judge({
      id,
      fault: `${burners.count} CPU burners (one per core) while 6 criticals remind every 2 s, then resolve`,
      world: w,
      ledger,
      accepted: w.poster.accepted,
      notes: { burners: burners.count, reminderMails: reminders },
      also: () => {
        expect(w.sink.messages.length, 'mails after every incident was resolved').toBe(mailsAfterSettle);
        expect(
          w.fake.calls.filter((c) => c.method.startsWith('chat.')).length,
          'Slack calls after resolve',
        ).toBe(slackAfterSettle);
      },
    });
  });
});
