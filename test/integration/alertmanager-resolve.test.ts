/**
 * The relay resolving alerts Alertmanager no longer reports (src/alertmanager/truth.ts), against the
 * real Redis store: the resolve is committed with compare-and-set like ingest, so a webhook merged between
 * the relay's read and its write is kept, and Alertmanager's late resolve is then a duplicate. The
 * incident's other deliveries are queued (a recording queue stands in for BullMQ here).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endSilencePause, resolveGone, type TruthDeps } from '../../src/alertmanager/truth.js';
import { type ApiAlert, judgeAlertmanager } from '../../src/alertmanager/verdict.js';
import { groupIdOf, type IncidentSnapshot } from '../../src/domain/model.js';
import type { DeliveryQueuePort, ReconcileJobData } from '../../src/enqueue/delivery-queue.js';
import { writeAheadKey } from '../../src/enqueue/write-ahead.js';
import { ingestWebhook } from '../../src/ingest/ingest.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { type AlertStore, RedisAlertStore } from '../../src/store/alert-store.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { testConfig } from '../support/config.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';

const prefix = uniquePrefix('am-resolve');
const FP1 = '83703cbb3d0eab66';
const FP2 = 'f59a291ce8cf8c46';
const FP3 = '0a1b2c3d4e5f6a7b';
const AM = 'http://am-a:9093';

let redis: Redis;
let store: RedisAlertStore;
let deliveries: DeliveryStore;
const queued: ReconcileJobData[] = [];
const queue: DeliveryQueuePort = {
  async enqueue(jobs) {
    queued.push(...jobs);
  },
  async schedule() {},
};
const metrics = createMetrics({ defaultMetrics: false });
const policy = testConfig(prefix).policy;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  store = new RedisAlertStore(redis, { prefix, retentionSeconds: 60 });
  deliveries = new DeliveryStore(redis, prefix, 60);
});

afterAll(async () => {
  redis.disconnect();
  await deletePrefix(prefix);
});

/** Ingest's own jobs (write-ahead entries nobody pumps here) are not what these tests look at. */
const ingest = (payload: WebhookPayload, alertStore: AlertStore = store) =>
  ingestWebhook(payload, {
    store: alertStore,
    writeAheadKey: writeAheadKey(prefix),
    policy,
    oncallEmail: 'oncall@example.com',
    metrics,
  });

function truthDeps(alertStore: AlertStore = store): TruthDeps {
  return { alerts: alertStore, deliveries, queue, logger: createLogger('silent'), metrics };
}

const reportedBy = (...alerts: [string, 'active' | 'silenced'][]): ApiAlert[] =>
  alerts.map(([fingerprint, state]) => ({
    fingerprint,
    status: {
      state: state === 'active' ? 'active' : 'suppressed',
      silencedBy: state === 'silenced' ? ['s1'] : [],
      inhibitedBy: [],
    },
  }));

function judged(snapshot: IncidentSnapshot, alerts: ApiAlert[], now: number) {
  return judgeAlertmanager(
    snapshot,
    [{ url: AM, ok: true, alerts, startedAt: snapshot.startedAt - 60_000, receivers: ['relay'] }],
    now,
  );
}

/** The group's second notification: a third alert joined. */
function withThirdAlert(payload: WebhookPayload): WebhookPayload {
  const third = {
    ...payload.alerts[0]!,
    fingerprint: FP3,
    labels: { ...payload.alerts[0]!.labels, zone: 'cargo-3' },
  };
  return { ...payload, alerts: [...payload.alerts, third] };
}

describe('resolveGone', () => {
  it('keeps a webhook merged between its read and its write, and queues the other deliveries', async () => {
    const first = inGroup(fixture('group-first-replica-a'), 'cas');
    await ingest(first);
    const groupId = groupIdOf(first.receiver, first.groupKey);
    const before = (await store.loadGroup(groupId)).snapshot!;
    expect(before.deliveries.length).toBeGreaterThanOrEqual(2);
    const now = Date.now();
    // Alertmanager no longer reports FP2 (it ended while silenced); FP1 is silenced.
    const verdict = judged(before, reportedBy([FP1, 'silenced']), now);

    // Alertmanager's next notification (a third alert) is committed just before the relay's first write.
    let raced = false;
    const racing: AlertStore = {
      loadGroup: (id) => store.loadGroup(id),
      async commitGroup(snapshot, rev, pending) {
        if (!raced) {
          raced = true;
          expect((await ingest(withThirdAlert(first))).duplicate).toBe(false);
        }
        return store.commitGroup(snapshot, rev, pending);
      },
      finishCommit: (snapshot, rev) => store.finishCommit(snapshot, rev),
      loadIncident: (gid, iid) => store.loadIncident(gid, iid),
      findGroupOfIncident: (iid) => store.findGroupOfIncident(iid),
    };
    queued.length = 0;
    const [myDelivery, ...others] = before.deliveries;
    const result = await resolveGone(before, verdict, {}, myDelivery!.id, now, truthDeps(racing));
    expect(raced).toBe(true);
    expect(result!.resolved).toBe(1);

    const stored = await store.loadGroup(groupId);
    expect(stored.snapshot!.alerts.map((a) => [a.fingerprint, a.status])).toEqual([
      [FP1, 'firing'],
      [FP2, 'resolved'],
      [FP3, 'firing'],
    ]);
    expect(stored.snapshot!.status).toBe('firing');
    // Committed, the other deliveries queued, then the pending marker cleared.
    expect(stored.pending).toBeUndefined();
    expect(queued.map((j) => j.deliveryId).sort()).toEqual(others.map((d) => d.id).sort());

    // Alertmanager's own later notification of the same state changes nothing.
    const late = withThirdAlert(first);
    late.alerts[1] = { ...late.alerts[1]!, status: 'resolved', endsAt: new Date(now).toISOString() };
    expect((await ingest(late)).duplicate).toBe(true);
  });

  it('resolves the incident once no alert is reported, and a late resolve from Alertmanager is a duplicate', async () => {
    const first = inGroup(fixture('firing-postgresql-down'), 'all-gone');
    await ingest(first);
    const groupId = groupIdOf(first.receiver, first.groupKey);
    const before = (await store.loadGroup(groupId)).snapshot!;
    const now = Date.now();
    const resolvedBefore = (await metrics.alertsResolvedByCheck.get()).values[0]?.value ?? 0;
    const result = await resolveGone(
      before,
      judged(before, [], now),
      {},
      before.deliveries[0]!.id,
      now,
      truthDeps(),
    );
    expect(result!.snapshot.status).toBe('resolved');
    expect((await store.loadIncident(groupId, before.incidentId))!.status).toBe('resolved');
    expect((await metrics.alertsResolvedByCheck.get()).values[0]!.value).toBe(resolvedBefore + 1);

    const late = await ingest(inGroup(fixture('resolved-postgresql-down'), 'all-gone'));
    expect(late.duplicate).toBe(true);
    expect(late.status).toBe('resolved');
    // Run again (another delivery's check): nothing left to resolve.
    const again = await resolveGone(
      result!.snapshot,
      judged(result!.snapshot, [], now),
      {},
      'x',
      now,
      truthDeps(),
    );
    expect(again!.resolved).toBe(0);
  });
});

describe('endSilencePause', () => {
  it('ends the pause it judged, but not one a newer silence from Slack extended meanwhile', async () => {
    const first = inGroup(fixture('firing-postgresql-down'), 'pause');
    await ingest(first);
    const groupId = groupIdOf(first.receiver, first.groupKey);
    const snapshot = (await store.loadGroup(groupId)).snapshot!;
    const now = Date.now();
    const silenced = {
      silencedUntil: now + 3_600_000,
      silences: [{ alertmanager: AM, id: 's1', until: now + 3_600_000, matched: 1, by: '@maria' }],
    };
    await deliveries.updateFlags(groupId, snapshot.incidentId, () => silenced);

    // Someone silenced it again from Slack after the relay read the flags: that pause stands.
    const judgedFlags = { ...silenced, silencedUntil: now + 1_800_000 };
    const kept = await endSilencePause(snapshot, judgedFlags, 'x', now, truthDeps());
    expect(kept.silencedUntil).toBe(now + 3_600_000);

    queued.length = 0;
    const ended = await endSilencePause(snapshot, silenced, snapshot.deliveries[0]!.id, now, truthDeps());
    expect(ended.silencedUntil).toBeUndefined();
    expect(ended.silences![0]!.until).toBe(now);
    expect((await deliveries.loadFlags(groupId, snapshot.incidentId)).silencedUntil).toBeUndefined();
    expect(queued.map((j) => j.deliveryId)).toEqual(snapshot.deliveries.slice(1).map((d) => d.id));
  });
});
