/**
 * `npm run bench:reminders`: 2,000 open critical incidents reminding every 10 s (the reminder rate of 10,000
 * incidents at 50 s), measured over 3 minutes. The relay runs in this process (API and workers, default
 * concurrency) on a redis-server of its own, so Redis's memory and key count are the relay's alone; Slack
 * goes to the preview outbox with `slack_pace: 0`, so Slack's 1 message/s per channel is not the limit.
 *
 * The incidents are opened over one repeat interval (200 webhooks/s), so reminders fall due evenly. After
 * every incident has been posted and has reminded once, the measured window starts. It reports:
 * - lateness of each scheduled reminder job: its start (BullMQ's processedOn) minus its due time (the job's
 *   `acceptedAt`, which reconcile sets to the planner's due time when it schedules the next wake-up);
 * - this process's CPU (user + system) per reminder sent;
 * - Redis `used_memory` and key count per open incident (after the incidents opened, against before), and
 *   their change across the window, with a breakdown by key kind.
 * Goals: lateness p99 < 2 s, < 10 KB of Redis per open incident, no growth beyond the incidents.
 *
 *   --incidents N (2000)  --repeat SECONDS (10)  --seconds S (180, the measured window)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRelay } from '../src/app/relay.js';
import { loadConfig } from '../src/config/config.js';
import type { ReconcileResult } from '../src/deliver/reconcile.js';
import type { ReconcileJobData } from '../src/enqueue/delivery-queue.js';
import { createLogger } from '../src/observability/logger.js';
import { startOwnRedis } from '../test/support/redis-server.js';
import {
  describeMs,
  firingWebhook,
  machineLine,
  quantile,
  type RedisFootprint,
  redisFootprint,
  sleep,
  writePolicy,
} from './support.js';

const { values: args } = parseArgs({
  options: {
    incidents: { type: 'string', default: '2000' },
    repeat: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '180' },
  },
});
const INCIDENTS = Number(args.incidents);
const REPEAT_S = Number(args.repeat);
const WINDOW_MS = Number(args.seconds) * 1000;
const PARALLEL_POSTS = 16;

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** Key kinds: ids (hex, numbers) replaced by '*', so per-incident keys group together. */
async function keyBreakdown(redis: Redis): Promise<string[]> {
  const kinds = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const kind = key.replace(/[0-9a-f]{12,}/g, '*').replace(/:\d+$/, ':N');
      const entry = kinds.get(kind) ?? { keys: 0, bytes: 0 };
      entry.keys += 1;
      entry.bytes += Number((await redis.memory('USAGE', key)) ?? 0);
      kinds.set(kind, entry);
    }
  } while (cursor !== '0');
  return [...kinds.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, 12)
    .map(([kind, { keys, bytes }]) => `  ${kind}: ${keys} keys, ${kib(bytes)}`);
}

async function main(): Promise<void> {
  const run = String(process.pid);
  const prefix = `bench-reminders-${run}`;
  const work = mkdtempSync(join(tmpdir(), 'relay-reminders-'));
  const redisServer = await startOwnRedis();
  const redis = new Redis(redisServer.url);
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    REDIS_URL: redisServer.url,
    RELAY_CONFIG: writePolicy(
      work,
      `routes:\n  - name: critical\n    matchers: ['severity="critical"']\n    slack: ['#alerts-critical']\n    repeat: ${REPEAT_S}s\nfallback_route: critical\ndelivery: { slack_pace: 0, shutdown_grace: 2s }\nredis_prefix: ${prefix}\n`,
    ),
    RELAY_OUTBOX_DIR: join(work, 'outbox'),
  });
  const relay = await startRelay(config, { logger: createLogger('error') });
  const worker = relay.workers?.slack;
  if (!worker) throw new Error('the relay started without a Slack worker');

  let measuring = false;
  const lateness: number[] = [];
  /** Due times (ms since the epoch) of reminders that started more than a second late: spread or clustered? */
  const lateDue: number[] = [];
  let posts = 0;
  let reminders = 0;
  let missingProcessedOn = 0;
  worker.on('active', (job) => {
    if (!measuring || !((job.opts.delay ?? 0) > 0)) return;
    const data = job.data as ReconcileJobData;
    if (!job.processedOn) missingProcessedOn++;
    const late = (job.processedOn ?? Date.now()) - data.acceptedAt;
    lateness.push(late);
    if (late > 1000) lateDue.push(data.acceptedAt);
  });
  worker.on('completed', (_job, result: ReconcileResult) => {
    if (result.status !== 'done') return;
    if (result.actions.includes('post')) posts++;
    if (measuring && result.actions.includes('reminder')) reminders++;
  });

  const lines = [
    `reminders benchmark: ${INCIDENTS} open critical incidents, repeat ${REPEAT_S}s, measured over ${WINDOW_MS / 1000} s; Slack to the preview outbox, slack_pace 0, worker concurrency ${config.policy.delivery.concurrency}`,
    machineLine(),
  ];
  try {
    await sleep(1000);
    const empty = await redisFootprint(redis);

    // Open the incidents evenly over one repeat interval.
    const opening = performance.now();
    const spacingMs = (REPEAT_S * 1000) / INCIDENTS;
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL_POSTS }, async () => {
        while (next < INCIDENTS) {
          const i = next++;
          const wait = opening + i * spacingMs - performance.now();
          if (wait > 0) await sleep(wait);
          const res = await fetch(`${relay.url}/webhook/alertmanager`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: firingWebhook({
              groupKey: `{}:{alertname="ReeferTemperatureExcursion", vehicle_id="TRK-${i}", run="${run}"}`,
              alertname: 'ReeferTemperatureExcursion',
              severity: 'critical',
              vehicle: `TRK-${i}`,
              fingerprint: `${run}${i.toString(16)}`,
            }),
          });
          if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
        }
      }),
    );
    lines.push(`incidents opened in ${((performance.now() - opening) / 1000).toFixed(1)} s`);
    const postDeadline = Date.now() + 120_000;
    while (posts < INCIDENTS) {
      if (Date.now() > postDeadline)
        throw new Error(`only ${posts}/${INCIDENTS} incidents posted within 120 s`);
      await sleep(100);
    }
    // Every incident reminds once before the window opens: steady state.
    await sleep(REPEAT_S * 1000 + 2000);

    const opened = await redisFootprint(redis);
    const samples: { at: number; footprint: RedisFootprint }[] = [{ at: 0, footprint: opened }];
    const cpuBefore = process.cpuUsage();
    // A blocked or starved event loop delays every job this process starts: tell that apart from the queue.
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    const windowStartAt = Date.now();
    measuring = true;
    const windowStart = performance.now();
    // A sample every 30 s and one at the end of the window.
    for (let at = Math.min(30_000, WINDOW_MS); ; at = Math.min(at + 30_000, WINDOW_MS)) {
      await sleep(Math.max(0, at - (performance.now() - windowStart)));
      samples.push({ at: at / 1000, footprint: await redisFootprint(redis) });
      if (at >= WINDOW_MS) break;
    }
    measuring = false;
    loopDelay.disable();
    const cpu = process.cpuUsage(cpuBefore);
    const lateBySecond = new Map<number, number>();
    for (const due of lateDue) {
      const second = Math.floor((due - windowStartAt) / 1000);
      lateBySecond.set(second, (lateBySecond.get(second) ?? 0) + 1);
    }
    const closed = samples.at(-1)?.footprint as RedisFootprint;

    const perIncident = (opened.usedMemory - empty.usedMemory) / INCIDENTS;
    const p99 = quantile(lateness, 0.99);
    const expectedReminders = Math.floor((INCIDENTS * WINDOW_MS) / (REPEAT_S * 1000));
    lines.push(
      `reminder lateness (job start − due time): ${describeMs(lateness)}  goal p99 < 2000 ms: ${p99 < 2000 ? 'met' : 'NOT met'}${missingProcessedOn ? ` (${missingProcessedOn} jobs without processedOn: timed on receipt)` : ''}`,
      `reminders more than 1 s late: ${lateDue.length}${lateDue.length ? `, by due second of the window: ${[...lateBySecond].map(([sec, n]) => `${sec}s×${n}`).join(' ')}` : ''}`,
      `event loop delay of this process over the window: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms; load average at the end ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
      `reminders sent in the window: ${reminders} (${INCIDENTS} × ${WINDOW_MS / 1000} s / ${REPEAT_S} s = ${expectedReminders}), ${(reminders / (WINDOW_MS / 1000)).toFixed(0)}/s`,
      `CPU of this process (relay API + workers) per reminder: ${((cpu.user + cpu.system) / reminders).toFixed(0)} µs; ${(((cpu.user + cpu.system) / 1000 / WINDOW_MS) * 100).toFixed(0)}% of a core over the window`,
      `Redis before incidents: ${kib(empty.usedMemory)}, ${empty.keys} keys; with ${INCIDENTS} open: ${kib(opened.usedMemory)}, ${opened.keys} keys`,
      `Redis per open incident: ${kib(perIncident)}, ${((opened.keys - empty.keys) / INCIDENTS).toFixed(1)} keys  goal < 10 KB: ${perIncident < 10_000 ? 'met' : 'NOT met'}`,
      `Redis across the window (s: used_memory, keys): ${samples.map((s) => `${s.at}: ${kib(s.footprint.usedMemory)}, ${s.footprint.keys}`).join(' | ')}`,
      `growth across the window: ${kib(closed.usedMemory - opened.usedMemory)} (${((closed.usedMemory - opened.usedMemory) / INCIDENTS).toFixed(0)} B per incident), ${closed.keys - opened.keys} keys`,
      'largest key kinds at the end (MEMORY USAGE):',
      ...(await keyBreakdown(redis)),
    );
  } finally {
    process.stdout.write(`${lines.join('\n')}\n`);
    await relay.stop();
    redis.disconnect();
    await redisServer.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:reminders failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
