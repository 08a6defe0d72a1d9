/**
 * The ingest pipeline after the HTTP layer: dedupe → route → enqueue. Answers only once Redis holds the
 * snapshot and its jobs, so a 2xx always means the work is stored (DESIGN.md §What "nothing lost" means).
 * The jobs are stored as a write-ahead entry in the snapshot's own commit (enqueue/write-ahead.ts): one
 * atomic Redis call per webhook, and the pump (ingest/pump.ts) turns the entry into the BullMQ jobs.
 */
import type { Policy } from '../config/config.js';
import { mergeWebhook } from '../dedupe/merge.js';
import { groupIdOf, type IncidentSnapshot } from '../domain/model.js';
import type { ReconcileJobData } from '../enqueue/delivery-queue.js';
import { encodeEntry } from '../enqueue/write-ahead.js';
import type { Metrics } from '../observability/metrics.js';
import type { WebhookPayload } from '../receive/schema.js';
import { deliveriesFor, selectRoutes } from '../route/route.js';
import type { AlertStore } from '../store/alert-store.js';
import type { ReplicaGate } from '../store/replicas.js';

export interface IngestDeps {
  store: AlertStore;
  /** The write-ahead stream the commit appends the webhook's jobs to (writeAheadKey of the policy's prefix). */
  writeAheadKey: string;
  policy: Policy;
  oncallEmail: string | undefined;
  metrics: Metrics;
  now?: () => number;
  /**
   * With REDIS_MIN_REPLICAS > 0: confirms the webhook's writes reached the replicas before it is answered.
   * Must run on the store's connection (WAIT covers the writes of its own connection).
   */
  replicas?: Pick<ReplicaGate, 'confirm'>;
}

export interface IngestResult {
  duplicate: boolean;
  incidentId: string;
  status: IncidentSnapshot['status'];
  jobs: number;
}

/** Another writer committed the same group between our read and our write this many times in a row. */
export class ContentionError extends Error {
  override name = 'ContentionError';
}

const MAX_COMMIT_ATTEMPTS = 8;

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
    const { snapshot, changed, newIncident } = mergeWebhook(stored.snapshot, payload, acceptedAt, groupId);
    if (newIncident) {
      const routing = selectRoutes(deps.policy, { ...snapshot.commonLabels, severity: snapshot.severity });
      if (routing.fallback) deps.metrics.unroutedSeverity.inc();
      snapshot.deliveries = deliveriesFor(routing.routes, deps.oncallEmail);
    }
    // An earlier commit whose jobs may be missing (marked pending by a writer that queues after it commits,
    // and failed before queueing) makes this copy new, not a duplicate: Alertmanager's retry must finish the
    // work. So does a heartbeat that revives a stale group: its deliveries stopped reminding and must hear
    // that Alertmanager is back.
    const revived =
      stored.snapshot?.status === 'firing' &&
      acceptedAt - stored.snapshot.lastSeenAt > deps.policy.delivery.stale_after * 1000;
    const mustEnqueue = changed || stored.pending !== undefined || revived;
    const jobs = mustEnqueue ? jobsFor(snapshot, acceptedAt) : [];
    // The jobs go into the commit itself, so no pending marker is needed: snapshot and jobs are stored by
    // one atomic call or not at all. The pump (ingest/pump.ts) calls finishCommit for the entry, then
    // turns it into the BullMQ jobs.
    const rev = await deps.store.commitGroup(
      snapshot,
      stored.rev,
      false,
      jobs.length > 0 ? { key: deps.writeAheadKey, entry: encodeEntry(jobs) } : undefined,
    );
    if (rev === undefined) continue;
    // WAIT runs on the commit's connection, so it covers the commit and its entry. A duplicate's commit
    // (it refreshes last-seen) is a write too, so its WAIT covers the commit it found.
    await deps.replicas?.confirm();
    return {
      duplicate: !mustEnqueue,
      incidentId: snapshot.incidentId,
      status: snapshot.status,
      jobs: jobs.length,
    };
  }
  throw new ContentionError(
    `group ${payload.groupKey} changed under ${MAX_COMMIT_ATTEMPTS} consecutive commits`,
  );
}
