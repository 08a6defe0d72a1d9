/**
 * The write-ahead pump (worker and all roles): turns the entries that webhooks committed with their
 * snapshots (enqueue/write-ahead.ts) into BullMQ jobs. It starts at boot, so entries a crash left behind are
 * queued first. For each batch:
 *   1. finishCommit for every entry (incident index, incident → group key; idempotent), so a crash after the
 *      jobs were added cannot leave an incident out of the index: the entry is still there until step 2;
 *   2. one atomic call adds the batch's jobs and deletes its entries. An entry another pump applied first
 *      adds nothing, so any number of pumps may run (one per worker process).
 * A batch is capped (entries and jobs) so that one Redis call stays within a few milliseconds.
 */
import type { Redis } from 'ioredis';
import type { WriteAheadEntry, WriteAheadLog } from '../enqueue/write-ahead.js';
import type { Logger } from '../observability/logger.js';
import type { AlertStore } from '../store/alert-store.js';

export interface PumpDeps {
  log: Pick<WriteAheadLog, 'read' | 'apply' | 'waitForEntry'>;
  store: Pick<AlertStore, 'loadIncident' | 'finishCommit'>;
  /** A connection of the pump's own: it blocks on XREAD while the log is empty. */
  blocking: Redis;
  logger: Logger;
  /** Entries per atomic call (default 64). */
  batchEntries?: number;
  /** Jobs per atomic call (default 128): BullMQ's add script costs Redis about 20 µs per job. */
  batchJobs?: number;
  /** How long one blocking wait lasts before the loop checks whether it was stopped (ms). */
  idleWaitMs?: number;
  /** After a failed round (Redis down), wait this long before the next (ms). */
  retryMs?: number;
  /** How long stop() waits for the current round (ms). */
  stopWaitMs?: number;
}

export interface RunningPump {
  isRunning(): boolean;
  /** Stops after the current round; resolves once the loop has ended. */
  stop(): Promise<void>;
}

/** The longest prefix of `entries` within both caps (always at least one entry). */
export function takeBatch(
  entries: readonly WriteAheadEntry[],
  maxEntries: number,
  maxJobs: number,
): WriteAheadEntry[] {
  const batch: WriteAheadEntry[] = [];
  let jobs = 0;
  for (const entry of entries) {
    if (batch.length >= maxEntries || (batch.length > 0 && jobs + entry.jobs.length > maxJobs)) break;
    batch.push(entry);
    jobs += entry.jobs.length;
  }
  return batch;
}

/**
 * Lets the event loop run (HTTP answers, in the `all` role) between slices of a batch's synchronous work:
 * 64 finishCommits or 128 jobs' BullMQ arguments built in one turn held webhook answers back for tens of ms.
 */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One round: at most one batch. Returns how many entries it applied (0: the log was empty). */
export async function pumpOnce(deps: PumpDeps): Promise<number> {
  const maxEntries = deps.batchEntries ?? 64;
  const batch = takeBatch(await deps.log.read(maxEntries), maxEntries, deps.batchJobs ?? 128);
  if (batch.length === 0) return 0;
  // The latest snapshot of each incident: the index must show the incident as it is now.
  const snapshots = await Promise.all(
    batch.map((entry) => {
      const first = entry.jobs[0];
      return first ? deps.store.loadIncident(first.groupId, first.incidentId) : undefined;
    }),
  );
  const finishing: Promise<void>[] = [];
  for (const [i, entry] of batch.entries()) {
    if (i > 0 && i % 8 === 0) await yieldToEventLoop();
    const snapshot = snapshots[i];
    if (snapshot) finishing.push(deps.store.finishCommit(snapshot, entry.rev));
  }
  await Promise.all(finishing);
  await deps.log.apply(batch);
  // A batch another pump applied first counts as progress too: there may be more behind it.
  return batch.length;
}

/**
 * Pumps until the log is empty or `maxMs` passed, before the workers start: the backlog a stopped worker
 * fleet left is then in BullMQ as a whole, so priorities order all of it (a critical behind 10,000 entries
 * is not taken after the first batch of warnings). Failures are left to the loop.
 */
export async function drainAtBoot(deps: PumpDeps, maxMs: number, now = Date.now): Promise<number> {
  const deadline = now() + maxMs;
  let total = 0;
  try {
    for (let n = await pumpOnce(deps); n > 0 && now() < deadline; n = await pumpOnce(deps)) total += n;
  } catch (error) {
    deps.logger.warn(
      { err: { message: (error as Error).message } },
      'write-ahead pump: could not queue the entries left from before the start; the pump retries',
    );
  }
  return total;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

export function startPump(deps: PumpDeps): RunningPump {
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      try {
        if ((await pumpOnce(deps)) === 0 && !stopping)
          await deps.log.waitForEntry(deps.blocking, deps.idleWaitMs ?? 1000);
      } catch (error) {
        if (stopping) break;
        deps.logger.warn(
          { err: { message: (error as Error).message } },
          'write-ahead pump: could not queue entries; retrying (they stay in the log until queued)',
        );
        await sleep(deps.retryMs ?? 500);
      }
    }
  })();
  return {
    isRunning: () => !stopping,
    async stop() {
      stopping = true;
      // Ends a blocking XREAD at once; the connection is the pump's own.
      deps.blocking.disconnect();
      // A round waiting for a Redis that is down would hold stop() until Redis is back: bounded. The round
      // ends when the caller disconnects the store's connection; its entries stay for the next pump.
      await Promise.race([loop, sleep(deps.stopWaitMs ?? 2000)]);
    },
  };
}
