/**
 * A step is taken exactly once however many jobs find it due at the same moment (deliver/escalate.ts):
 * eight concurrent advanceLadder calls for one incident over the real Redis compare-and-set record one step,
 * count one escalation and queue the incident's deliveries once; an acknowledgement lapses once too. The
 * queue is a small in-test implementation of the DeliveryQueuePort that records what it is given.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/config.js';
import { advanceLadder, ladderWakeAt } from '../../src/deliver/escalate.js';
import type { IncidentSnapshot } from '../../src/domain/model.js';
import type { DeliveryQueuePort, ReconcileJobData } from '../../src/enqueue/delivery-queue.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { OnCallResolver } from '../../src/oncall/types.js';
import { deliveriesFor } from '../../src/route/route.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';

const prefix = uniquePrefix('ladder-once');
const redis = new Redis(REDIS_URL);

afterAll(async () => {
  redis.disconnect();
  await deletePrefix(prefix);
});

const policy = parsePolicy(
  `routes:
  - name: critical
    slack: ['#alerts-critical']
    repeat: 5m
    escalate:
      - { after: 15m, slack: ['#dispatch-duty'], mention: [schedule:primary] }
      - { after: 30m, email: [schedule:primary] }
fallback_route: critical
ack_timeout: 30m
schedules:
  primary:
    timezone: UTC
    handoff: '09:00'
    rotation: daily
    members: [{ name: Maria Jansen, slack: U0123ABCD, email: maria@coldchain.example }]
redis_prefix: ${prefix}
`,
  'test policy',
);

const T0 = Date.UTC(2026, 10, 27, 3, 0, 0);
const MIN = 60_000;

function snapshotOf(incidentId: string): IncidentSnapshot {
  return {
    incidentId,
    groupId: `g${incidentId}`,
    receiver: 'relay',
    groupKey: incidentId,
    startedAt: T0,
    status: 'firing',
    truncatedAlerts: 0,
    alerts: [],
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: '',
    lastSeenAt: T0,
    severity: 'critical',
    deliveries: deliveriesFor(policy.routes, undefined),
  };
}

function harness() {
  const queued: ReconcileJobData[][] = [];
  const queue: DeliveryQueuePort = {
    enqueue: async (jobs) => {
      queued.push([...jobs]);
    },
    schedule: async () => undefined,
  };
  const oncall: OnCallResolver = {
    names: () => ['primary'],
    whoIsOnCall: async (schedule) => ({
      ok: true,
      schedule,
      members: [{ name: 'Maria Jansen', slack: 'U0123ABCD', email: 'maria@coldchain.example' }],
    }),
    nextHandoff: async () => undefined,
  };
  const metrics = createMetrics({ defaultMetrics: false });
  const deps = {
    deliveries: new DeliveryStore(redis, prefix, 3600),
    queue,
    policy,
    oncallEmail: undefined,
    oncall,
    metrics,
    logger: createLogger('silent'),
  };
  return { deps, queued, metrics };
}

describe('advanceLadder over the real Redis', () => {
  it('takes a step once when eight jobs find it due together', async () => {
    const { deps, queued, metrics } = harness();
    const snapshot = snapshotOf('aaaa000000000001');
    expect(ladderWakeAt(policy, snapshot, {})).toBe(T0 + 15 * MIN);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => advanceLadder(snapshot, {}, deps, T0 + 16 * MIN)),
    );
    const flags = await deps.deliveries.loadFlags(snapshot.groupId, snapshot.incidentId);
    expect(flags.ladder?.steps).toEqual([
      {
        step: 0,
        at: T0 + 16 * MIN,
        after: 900,
        targets: ['#dispatch-duty'],
        mentions: ['U0123ABCD'],
        unknown: [],
      },
    ]);
    expect(flags.extraDeliveries?.map((d) => d.target)).toEqual(['#dispatch-duty']);
    for (const r of results) expect(r.ladder?.steps).toHaveLength(1);
    // The winner queued every delivery of the incident (the new one included), once.
    expect(queued).toHaveLength(1);
    expect(queued[0]!.map((j) => j.deliveryId).sort()).toEqual(
      [...snapshot.deliveries, ...flags.extraDeliveries!].map((d) => d.id).sort(),
    );
    const counted = await metrics.escalations.get();
    expect(counted.values).toEqual([{ labels: { route: 'critical', step: '1' }, value: 1 }]);
    // The next step is the next wake-up.
    expect(ladderWakeAt(policy, snapshot, flags)).toBe(T0 + 30 * MIN);
  });

  it('lapses an acknowledgement once, dated at ack + ack_timeout, and then takes the step from the lapse', async () => {
    const { deps, queued } = harness();
    const snapshot = snapshotOf('aaaa000000000002');
    await deps.deliveries.updateFlags(snapshot.groupId, snapshot.incidentId, () => ({
      acknowledged: { by: 'Maria Jansen', at: T0 + 5 * MIN, alertKeys: [], truncatedAlerts: 0 },
    }));
    const acked = await deps.deliveries.loadFlags(snapshot.groupId, snapshot.incidentId);
    // Acknowledged: the only wake-up is the lapse.
    expect(ladderWakeAt(policy, snapshot, acked)).toBe(T0 + 35 * MIN);
    await Promise.all(Array.from({ length: 5 }, () => advanceLadder(snapshot, acked, deps, T0 + 36 * MIN)));
    const lapsed = await deps.deliveries.loadFlags(snapshot.groupId, snapshot.incidentId);
    expect(lapsed.acknowledged).toBeUndefined();
    expect(lapsed.ackLapses).toEqual([{ by: 'Maria Jansen', at: T0 + 35 * MIN }]);
    expect(lapsed.ladder).toBeUndefined();
    expect(queued).toHaveLength(1);
    // The first step counts from the lapse: due at 35 + 15 min.
    expect(ladderWakeAt(policy, snapshot, lapsed)).toBe(T0 + 50 * MIN);
    await advanceLadder(snapshot, lapsed, deps, T0 + 49 * MIN);
    expect((await deps.deliveries.loadFlags(snapshot.groupId, snapshot.incidentId)).ladder).toBeUndefined();
    await advanceLadder(snapshot, lapsed, deps, T0 + 50 * MIN);
    const stepped = await deps.deliveries.loadFlags(snapshot.groupId, snapshot.incidentId);
    expect(stepped.ladder?.steps.map((s) => [s.step, s.at])).toEqual([[0, T0 + 50 * MIN]]);
  });

  it('does nothing for a resolved incident', async () => {
    const { deps, queued } = harness();
    const snapshot = { ...snapshotOf('aaaa000000000003'), status: 'resolved' as const };
    expect(ladderWakeAt(policy, snapshot, {})).toBeUndefined();
    expect(await advanceLadder(snapshot, {}, deps, T0 + 60 * MIN)).toEqual({});
    expect(queued).toHaveLength(0);
  });
});
