/**
 * The write-ahead log of reconcile jobs (DESIGN.md §The pipeline, enqueue). A webhook that causes jobs
 * appends one entry to a Redis stream in the same Lua call that commits its snapshot (store/alert-store.ts),
 * and is answered once that call returned: the entry is its jobs, in another form. The pump (ingest/pump.ts,
 * in the worker and all roles) turns entries into BullMQ jobs with `applyEntries`, which deletes each entry
 * in the same Lua call that adds its jobs: a crash before the call leaves the entry for the next pump, a crash
 * after it has nothing left to do, and a second pump racing the first finds the entry gone and adds nothing.
 *
 *   {prefix}:ingest-log   stream   fields r (the group's revision the commit made), j (the jobs, see encodeEntry)
 *
 * The stream carries the queues' hash tag, so the pump's call touches one Cluster slot. Entries are never
 * trimmed by length: only the pump removes them, once their jobs exist.
 *
 * The jobs are added by BullMQ's own `addPrioritizedJob` script, wrapped as a Lua function in ours, with the
 * arguments BullMQ's own code builds for `Queue.add` (recorded instead of sent, see bullAddArgs). Both are
 * BullMQ internals, so package.json pins bullmq to one version and test/integration/write-ahead.test.ts
 * compares a job written here with one `Queue.add` wrote, field by field.
 */

import { createRequire } from 'node:module';
import { Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ChannelKind } from '../domain/model.js';
import {
  type BullDeliveryQueue,
  type DeliveryQueueOptions,
  jobOptions,
  type ReconcileJobData,
} from './delivery-queue.js';

// BullMQ's scripts are not part of its public API (no types either); there is no other way to run one
// inside a call of our own. The CommonJS build is the one `bullmq` resolves to at run time.
const { addPrioritizedJob } = createRequire(import.meta.url)(
  'bullmq/dist/cjs/scripts/addPrioritizedJob-9.js',
) as { addPrioritizedJob: { name: string; content: string } };

export function writeAheadKey(prefix: string): string {
  return `{${prefix}}:ingest-log`;
}

/** The jobs of one webhook share everything but the delivery: stored once, with [deliveryId, kind] pairs. */
interface EncodedEntry {
  g: string;
  i: string;
  s?: string;
  a: number;
  d: [string, ChannelKind][];
}

/** The entry's `j` field. Runs on the answer path, so it is one small JSON.stringify. */
export function encodeEntry(jobs: readonly ReconcileJobData[]): string {
  const first = jobs[0];
  if (!first) throw new Error('a write-ahead entry needs at least one job');
  for (const j of jobs) {
    if (
      j.groupId !== first.groupId ||
      j.incidentId !== first.incidentId ||
      j.severity !== first.severity ||
      j.acceptedAt !== first.acceptedAt
    )
      throw new Error('the jobs of one write-ahead entry must share incident, severity and acceptedAt');
  }
  const entry: EncodedEntry = {
    g: first.groupId,
    i: first.incidentId,
    a: first.acceptedAt,
    d: jobs.map((j) => [j.deliveryId, j.kind]),
  };
  if (first.severity !== undefined) entry.s = first.severity;
  return JSON.stringify(entry);
}

export function decodeEntry(text: string): ReconcileJobData[] {
  const e = JSON.parse(text) as EncodedEntry;
  return e.d.map(([deliveryId, kind]) => ({
    groupId: e.g,
    incidentId: e.i,
    deliveryId,
    kind,
    ...(e.s !== undefined ? { severity: e.s } : {}),
    acceptedAt: e.a,
  }));
}

export interface WriteAheadEntry {
  /** The stream entry's id; its first part is when the snapshot was committed (ms, Redis's clock). */
  id: string;
  /** The group's revision that the commit made. */
  rev: string;
  jobs: ReconcileJobData[];
}

/** Keys (9) and arguments (3) of one BullMQ `addPrioritizedJob` call. */
export interface BullAddCall {
  keys: string[];
  args: (string | Buffer)[];
}

/** What BullMQ's Redis backend needs of a client to add a job; we record the call instead of sending it. */
interface AddJobBackend {
  addJobToTransaction(
    client: { runCommand(name: string, args: unknown[]): Promise<unknown> },
    job: unknown,
    jobId: string | undefined,
    parentKeyOpts: { parentKey?: string; parentDependenciesKey?: string },
  ): Promise<unknown>;
}

/**
 * The call `queue.add(name, data, opts)` would send, built by BullMQ's own code (job defaults, option
 * encoding, msgpack), for a job without a delay and with a priority (every reconcile job has one).
 */
export async function bullAddArgs(
  queue: Queue,
  name: string,
  data: unknown,
  opts: ReturnType<typeof jobOptions>,
): Promise<BullAddCall> {
  // As Queue.addJob and Job.create do it (no default job options, no parent).
  const job = new Job(queue, name, data, { ...opts, jobId: undefined });
  const internals = job as unknown as { asJSON(): unknown; validateOptions(json: unknown): void };
  const json = internals.asJSON();
  internals.validateOptions(json);
  let recorded: { name: string; args: unknown[] } | undefined;
  const recorder = {
    runCommand(commandName: string, args: unknown[]) {
      recorded = { name: commandName, args };
      return Promise.resolve('0');
    },
  };
  await (queue.backend as unknown as AddJobBackend).addJobToTransaction(recorder, json, undefined, {
    parentDependenciesKey: '',
  });
  if (!recorded?.name.startsWith(`${addPrioritizedJob.name}:`) || recorded.args.length !== 12) {
    throw new Error(
      `BullMQ did not build an ${addPrioritizedJob.name} call for a prioritized job (got ${recorded?.name}); the write-ahead pump is bound to bullmq's version in package.json`,
    );
  }
  return {
    keys: recorded.args.slice(0, 9) as string[],
    args: recorded.args.slice(9) as (string | Buffer)[],
  };
}

/**
 * KEYS[1] the stream, then 9 keys per job; ARGV per entry: its id, its job count, then 3 arguments per job.
 * An entry already deleted (another pump applied it) adds nothing. Returns the ids this call applied.
 */
const APPLY_ENTRIES = `
local function addPrioritizedJob(KEYS, ARGV)
${addPrioritizedJob.content}
end
local applied = {}
local k, a = 2, 1
while a <= #ARGV do
  local id, n = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  local acked = redis.call('XDEL', KEYS[1], id) == 1
  for _ = 1, n do
    if acked then
      addPrioritizedJob({KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5],
        KEYS[k + 6], KEYS[k + 7], KEYS[k + 8]}, {ARGV[a], ARGV[a + 1], ARGV[a + 2]})
    end
    k, a = k + 9, a + 3
  end
  if acked then applied[#applied + 1] = id end
end
return applied
`;

type LogRedis = Redis & {
  relayApplyWriteAhead(numKeys: number, ...keysAndArgs: (string | Buffer | number)[]): Promise<string[]>;
};

export interface WriteAheadDepth {
  entries: number;
  /** Age of the oldest entry (ms), 0 when there is none. */
  oldestMs: number;
}

export class WriteAheadLog {
  readonly key: string;
  private readonly redis: LogRedis;

  constructor(
    redis: Redis,
    private readonly queue: BullDeliveryQueue,
    private readonly options: DeliveryQueueOptions,
  ) {
    this.key = writeAheadKey(options.prefix);
    redis.defineCommand('relayApplyWriteAhead', { lua: APPLY_ENTRIES });
    this.redis = redis as LogRedis;
  }

  /** The oldest entries, at most `count`. */
  async read(count: number): Promise<WriteAheadEntry[]> {
    const raw = await this.redis.xrange(this.key, '-', '+', 'COUNT', count);
    return raw.map(([id, fields]) => {
      const field = (name: string) => fields[fields.indexOf(name) + 1] ?? '';
      return { id, rev: field('r'), jobs: decodeEntry(field('j')) };
    });
  }

  /** Adds the entries' jobs and deletes the entries, in one atomic call; returns the ids it applied. */
  async apply(entries: readonly WriteAheadEntry[]): Promise<string[]> {
    if (entries.length === 0) return [];
    const keys: string[] = [this.key];
    const args: (string | Buffer | number)[] = [];
    let built = 0;
    for (const entry of entries) {
      args.push(entry.id, entry.jobs.length);
      for (const data of entry.jobs) {
        // Let HTTP answers through between slices (the `all` role runs this beside the API).
        if (++built % 16 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const call = await bullAddArgs(
          this.queue.queues[data.kind],
          'reconcile',
          data,
          jobOptions(data, this.options),
        );
        keys.push(...call.keys);
        args.push(...call.args);
      }
    }
    return this.redis.relayApplyWriteAhead(keys.length, ...keys, ...args);
  }

  /** Blocks (on a connection of its own) until the log has an entry or `timeoutMs` passed. */
  async waitForEntry(blocking: Redis, timeoutMs: number): Promise<void> {
    // ID 0-0: returns at once while any entry exists, so an entry added before the call is not missed.
    await blocking.xread('COUNT', 1, 'BLOCK', timeoutMs, 'STREAMS', this.key, '0-0');
  }

  async depth(now = Date.now()): Promise<WriteAheadDepth> {
    const [entries, oldest] = await Promise.all([
      this.redis.xlen(this.key),
      this.redis.xrange(this.key, '-', '+', 'COUNT', 1),
    ]);
    const oldestId = oldest[0]?.[0];
    return { entries, oldestMs: oldestId ? Math.max(0, now - Number(oldestId.split('-')[0])) : 0 };
  }
}
