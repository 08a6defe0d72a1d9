/**
 * The delivery log lines (deliver/delivery-report.ts): one per message a deliverer step sent, read from what
 * it recorded, including an update in place and a send followed by a throw; none for a step that sent nothing.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { DeliveryRun } from '../../src/channels/channel.js';
import { reportingSends } from '../../src/deliver/delivery-report.js';
import { appendEvent, type DeliveryEvent, EMPTY_LOG } from '../../src/domain/delivery-log.js';
import type { DeliveryTarget, IncidentSnapshot } from '../../src/domain/model.js';
import { createLogger } from '../../src/observability/logger.js';

const target: DeliveryTarget = {
  id: 'd1',
  kind: 'slack',
  target: '#alerts-critical',
  route: 'critical',
  repeatSeconds: 300,
  broadcastReminders: false,
};

function setup(events: DeliveryEvent[] = []) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    }),
  );
  const log = { ...structuredClone(EMPTY_LOG), events: [...events] };
  // Only what reportingSends reads: the incident id, the delivery and its log.
  const run = { snapshot: { incidentId: 'i1' } as IncidentSnapshot, delivery: target, log } as DeliveryRun;
  const sent = () => lines.filter((l) => l.msg === 'message sent').map((l) => [l.action, l.outcome]);
  return { run, logger, lines, sent };
}

describe('reportingSends', () => {
  it('logs one info line per message the step recorded, with the delivery, destination and latency', async () => {
    const { run, logger, lines, sent } = setup([{ at: 1, action: 'post', outcome: 'delivered' }]);
    await reportingSends(run, logger, async () => {
      appendEvent(run.log, { at: 2, action: 'change', outcome: 'delivered' });
      appendEvent(run.log, { at: 3, action: 'reminder', outcome: 'delivered' });
    });
    expect(sent()).toEqual([
      ['change', 'delivered'],
      ['reminder', 'delivered'],
    ]);
    expect(lines[0]).toMatchObject({
      level: 30,
      incidentId: 'i1',
      deliveryId: 'd1',
      channel: 'slack',
      destination: '#alerts-critical',
      latencyMs: expect.any(Number),
    });
  });

  it('logs an update in place (a new rendered hash without a post), outcome as the last send went', async () => {
    const { run, logger, sent } = setup([
      { at: 1, action: 'post', outcome: 'previewed' },
      { at: 2, action: 'dead_letter', outcome: 'dead_lettered' },
    ]);
    run.log.renderedHash = 'old';
    await reportingSends(run, logger, async () => {
      run.log.renderedHash = 'new';
    });
    expect(sent()).toEqual([['update', 'previewed']]);
  });

  it('logs a first post once (its hash is not an update), and nothing for a step that sent nothing', async () => {
    const { run, logger, sent } = setup();
    await reportingSends(run, logger, async () => {
      run.log.renderedHash = 'first';
      appendEvent(run.log, { at: 1, action: 'post', outcome: 'delivered' });
    });
    await reportingSends(run, logger, async () => {});
    expect(sent()).toEqual([['post', 'delivered']]);
  });

  it('logs what was sent before the step threw, and rethrows', async () => {
    const { run, logger, sent } = setup();
    const failure = new Error('look again shortly');
    await expect(
      reportingSends(run, logger, async () => {
        appendEvent(run.log, { at: 1, action: 'post', outcome: 'delivered' });
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(sent()).toEqual([['post', 'delivered']]);
  });

  it('finds the new events when the log is full and drops its oldest', async () => {
    const full = Array.from({ length: 50 }, (_, i) => ({
      at: i,
      action: 'reminder',
      outcome: 'delivered' as const,
    }));
    const { run, logger, sent } = setup(full);
    await reportingSends(run, logger, async () => {
      appendEvent(run.log, { at: 100, action: 'acknowledged', outcome: 'delivered' });
    });
    expect(sent()).toEqual([['acknowledged', 'delivered']]);
  });
});
