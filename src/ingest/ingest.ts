/**
 * The ingest pipeline after the HTTP layer: dedupe → route → enqueue. Answers only once Redis holds the
 * snapshot and its jobs, so a 2xx always means the work is stored (DESIGN.md §What "nothing lost" means).
 */
import type { Policy } from '../config/config.js';
import { mergeWebhook } from '../dedupe/merge.js';
import { groupIdOf, type IncidentSnapshot } from '../domain/model.js';
import type { DeliveryQueuePort, ReconcileJobData } from '../enqueue/delivery-queue.js';
import type { Metrics } from '../observability/metrics.js';
import type { WebhookPayload } from '../receive/schema.js';
import { deliveriesFor, selectRoutes } from '../route/route.js';
import type { AlertStore } from '../store/alert-store.js';
import type { ReplicaGate } from '../store/replicas.js';

export interface IngestDeps {
  store: AlertStore;
  queue: DeliveryQueuePort;
  policy: Policy;
  oncallEmail: string | undefined;
  metrics: Metrics;
  now?: () => number;
  /**
   * With REDIS_MIN_REPLICAS > 0: confirms the webhook's writes reached the replicas before it is answered.
   * Must run on the store's connection (WAIT covers the writes of its own connection).
   */
  replicas?: Pick<ReplicaGate, 'confirm'>;
  /** Told when the bookkeeping after the answer (finishCommit) fails; the webhook itself was stored. */
  onFinishError?: (error: unknown, snapshot: IncidentSnapshot) => void;
}

export interface IngestResult {
  duplicate: boolean;
  incidentId: string;
  status: IncidentSnapshot['status'];
  jobs: number;
  /**
   * Settles (never rejects) once the commit's bookkeeping is done: the pending marker cleared and the
   * incident index written. The caller answers without waiting for it; see ingestWebhook.
   */
  finished: Promise<void>;
}

/** Another writer committed the same group between our read and our write this many times in a row. */
export class ContentionError extends Error {
  override name = 'ContentionError';
}

const MAX_COMMIT_ATTEMPTS = 8;
const DONE: Promise<void> = Promise.resolve();

export function jobsFor(snapshot: IncidentSnapshot, acceptedAt: number): ReconcileJobData[] {
  return snapshot.deliveries.map((d) => ({
    groupId: snapshot.groupId,
    incidentId: snapshot.incidentId,
    deliveryId: d.id,
    kind: d.kind,
    severity: snapshot.severity,
    acceptedAt,
  }));
}

export async function ingestWebhook(payload: WebhookPayload, deps: IngestDeps): Promise<IngestResult> {
  const now = deps.now ?? Date.now;
  const groupId = groupIdOf(payload.receiver, payload.groupKey);
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
    const stored = await deps.store.loadGroup(groupId);
    const acceptedAt = now();
    const { snapshot, changed, newIncident } = mergeWebhook(stored.snapshot, payload, acceptedAt);
    if (newIncident) {
      const routing = selectRoutes(deps.policy, { ...snapshot.commonLabels, severity: snapshot.severity });
      if (routing.fallback) deps.metrics.unroutedSeverity.inc();
      snapshot.deliveries = deliveriesFor(routing.routes, deps.oncallEmail);
    }
    // An earlier commit whose jobs may be missing (it failed before queueing) makes this copy new, not a
    // duplicate: Alertmanager's retry must finish the work. So does a heartbeat that revives a stale group:
    // its deliveries stopped reminding and must hear that Alertmanager is back.
    const revived =
      stored.snapshot?.status === 'firing' &&
      acceptedAt - stored.snapshot.lastSeenAt > deps.policy.delivery.stale_after * 1000;
    const mustEnqueue = changed || stored.pending !== undefined || revived;
    const rev = await deps.store.commitGroup(snapshot, stored.rev, changed);
    if (rev === undefined) continue;
    const jobs = mustEnqueue ? jobsFor(snapshot, acceptedAt) : [];
    let finished = DONE;
    if (mustEnqueue) {
      await deps.queue.enqueue(jobs);
      // Snapshot and jobs are stored: the webhook may be answered now. Clearing the pending marker and
      // writing the incident index need not hold the answer back (one Redis round trip less per webhook):
      // if they fail, the marker stays and the next copy of this group re-queues the same jobs, which the
      // queue's deduplication absorbs and the level-triggered worker tolerates; the index is written again
      // by the next commit that queues jobs. Nothing accepted is lost either way.
      finished = deps.store
        .finishCommit(snapshot, rev)
        .catch((error: unknown) => deps.onFinishError?.(error, snapshot));
    }
    // Issued after finishCommit's writes on the same connection, so the WAIT also covers the jobs: those
    // writes ran after the enqueue, and a replica's acknowledged offset includes everything before it. A
    // duplicate's commit (it refreshes last-seen) is a write too, so its WAIT covers the commit it found.
    await deps.replicas?.confirm();
    return {
      duplicate: !mustEnqueue,
      incidentId: snapshot.incidentId,
      status: snapshot.status,
      jobs: jobs.length,
      finished,
    };
  }
  throw new ContentionError(
    `group ${payload.groupKey} changed under ${MAX_COMMIT_ATTEMPTS} consecutive commits`,
  );
}
