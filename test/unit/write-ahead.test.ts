/** The write-ahead entry's encoding and the pump's batch cap: pure, no Redis. */
import { describe, expect, it } from 'vitest';
import type { ReconcileJobData } from '../../src/enqueue/delivery-queue.js';
import { decodeEntry, encodeEntry, type WriteAheadEntry } from '../../src/enqueue/write-ahead.js';
import { takeBatch } from '../../src/ingest/pump.js';

const job = (deliveryId: string, kind: 'slack' | 'email', severity?: string): ReconcileJobData => ({
  groupId: 'g1',
  incidentId: 'i1',
  deliveryId,
  kind,
  ...(severity !== undefined ? { severity } : {}),
  acceptedAt: 1_795_000_000_123,
});

describe('a write-ahead entry', () => {
  it('decodes to the jobs it was encoded from, with or without a severity', () => {
    for (const jobs of [
      [job('d1', 'slack', 'critical'), job('d2', 'email', 'critical')],
      [job('d3', 'email')],
    ]) {
      expect(decodeEntry(encodeEntry(jobs))).toEqual(jobs);
    }
  });

  it('refuses jobs of different incidents or severities, and no job at all', () => {
    expect(() => encodeEntry([job('d1', 'slack', 'critical'), job('d2', 'email', 'warning')])).toThrow(
      'must share',
    );
    expect(() => encodeEntry([job('d1', 'slack'), { ...job('d2', 'email'), incidentId: 'i2' }])).toThrow(
      'must share',
    );
    expect(() => encodeEntry([])).toThrow('at least one job');
  });
});

describe('the pump batch', () => {
  const entry = (id: string, jobs: number): WriteAheadEntry => ({
    id,
    rev: '1',
    jobs: Array.from({ length: jobs }, (_, i) => job(`d${i}`, 'slack')),
  });

  it('stops at the entry cap and at the job cap, in log order', () => {
    const entries = ['1-0', '2-0', '3-0', '4-0'].map((id) => entry(id, 2));
    expect(takeBatch(entries, 3, 100).map((e) => e.id)).toEqual(['1-0', '2-0', '3-0']);
    expect(takeBatch(entries, 10, 5).map((e) => e.id)).toEqual(['1-0', '2-0']);
    expect(takeBatch([], 10, 5)).toEqual([]);
  });

  it('always takes the first entry, even one over the job cap, so a large fan-out cannot stall the log', () => {
    expect(takeBatch([entry('1-0', 9), entry('2-0', 1)], 10, 4).map((e) => e.id)).toEqual(['1-0']);
  });
});
