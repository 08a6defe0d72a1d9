/**
 * `npm run bench:ingest`: the relay's webhook endpoint against a bare Hono endpoint that only parses the
 * same JSON, with the same payloads and the same load tool (wrk) in the same run, on loopback only.
 * Every request is a new group (a counter in the groupKey) so deduplication cannot short-circuit it.
 * The relay runs with RELAY_ROLE=api so no worker competes for the CPU; Redis is the local one. Each round
 * runs, one after the other: bare, [the relay of BENCH_BEFORE_DIR], the relay alone, and the relay with the
 * write-ahead pump running beside it in a process of its own (bench/pump-process.ts: a worker's share of the
 * work, BullMQ's job adds, without the deliveries).
 *
 * Options (environment): BENCH_DURATION (seconds per run, default 10; each run has a warm-up as long),
 * BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (interleaved rounds, medians printed; default 1),
 * BENCH_ALERTS (alerts per webhook, default "1,10"), BENCH_BEFORE_DIR (a checkout of an older commit,
 * with node_modules, whose relay runs in each round as "before").
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { writeAheadKey } from '../src/enqueue/write-ahead.js';
import { deletePrefix } from '../test/support/redis.js';
import { freePort } from '../test/support/redis-server.js';
import { cpuMsOf, machineLine, quantile, startServer } from './support.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const ALERT_COUNTS = (process.env.BENCH_ALERTS ?? '1,10').split(',').map(Number);
const BEFORE_DIR = process.env.BENCH_BEFORE_DIR;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `bench-${process.pid}`;
const work = mkdtempSync(join(tmpdir(), 'relay-bench-'));

function payload(alertCount: number): Record<string, unknown> {
  const alerts = Array.from({ length: alertCount }, (_, i) => ({
    status: 'firing',
    labels: {
      alertname: 'ReeferTemperatureExcursion',
      severity: 'critical',
      vehicle_id: `TRK-${1000 + i}`,
      shipment_id: `SHP-${2000 + i}`,
      zone: 'cargo-1',
    },
    annotations: {
      summary: `Reefer temperature above range on TRK-${1000 + i}`,
      value: '9.4',
      runbook_url: 'https://runbooks.example/reefer-excursion',
    },
    startsAt: '2026-11-26T03:08:56Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=reefer_temperature_celsius',
    fingerprint: (0x83703cbb3d0eab66n + BigInt(i)).toString(16),
  }));
  return {
    receiver: 'relay',
    status: 'firing',
    alerts,
    groupLabels: { alertname: 'ReeferTemperatureExcursion', severity: 'critical' },
    commonLabels: { alertname: 'ReeferTemperatureExcursion', severity: 'critical', zone: 'cargo-1' },
    commonAnnotations: { runbook_url: 'https://runbooks.example/reefer-excursion' },
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: '__GROUP__',
    truncatedAlerts: 0,
  };
}

/**
 * A wrk script that sends the payload with a fresh groupKey on every request. The run's nonce comes in as a
 * wrk argument: Lua's random sequence is the same in every wrk process, so without it the measured run
 * would repeat the warm-up's groupKeys and count partly duplicates (which queue nothing).
 */
function wrkScript(alertCount: number): string {
  const [head, tail] = JSON.stringify(payload(alertCount)).split('__GROUP__');
  const file = join(work, `post-${alertCount}.lua`);
  writeFileSync(
    file,
    `local head = ${JSON.stringify(head)}
local tail = ${JSON.stringify(tail)}
local counter = 0
local thread_id = 0
local ids = 0
setup = function(thread)
  ids = ids + 1
  thread:set("tid", ids)
end
init = function(args)
  thread_id = args[1] .. "-" .. tid
end
request = function()
  counter = counter + 1
  local body = head .. "{}:{bench-" .. thread_id .. "-" .. counter .. "-" .. math.random(1, 1e9) .. "}" .. tail
  return wrk.format("POST", "/webhook/alertmanager", {["Content-Type"] = "application/json"}, body)
end
`,
  );
  return file;
}

interface RunResult {
  rps: number;
  p50: string;
  p99: string;
  non2xx: number;
}

function runWrk(port: number, script: string): RunResult {
  const nonce = Math.random().toString(36).slice(2, 10);
  const out = execFileSync(
    'wrk',
    [
      '-t2',
      `-c${CONNECTIONS}`,
      `-d${DURATION}s`,
      '--latency',
      '-s',
      script,
      `http://127.0.0.1:${port}`,
      '--',
      nonce,
    ],
    {
      encoding: 'utf8',
    },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = /\s50%\s+([\d.]+\w+)/.exec(out)?.[1] ?? '?';
  const p99 = /\s99%\s+([\d.]+\w+)/.exec(out)?.[1] ?? '?';
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p50, p99, non2xx };
}

async function stop(child: ChildProcess): Promise<void> {
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

type Series = 'bare' | 'before' | 'relay' | 'relay + pump';

function policyFile(prefix: string): string {
  const file = join(work, `policy-${prefix}.yaml`);
  writeFileSync(
    file,
    `routes:\n  - name: critical\n    matchers: ['severity="critical"']\n    slack: ['#alerts-critical']\n    email: [oncall]\n    repeat: 5m\n  - name: warning\n    slack: ['#alerts-warning']\n    repeat: 1h\nfallback_route: warning\nredis_prefix: ${prefix}\n`,
  );
  return file;
}

type SeriesResult = RunResult & { left?: number; cpuUs?: number; pumpCpuUs?: number };

/** One series: its server (and the pump beside it), a warm-up run, then the measured run. */
async function runSeries(series: Series, script: string, round: number): Promise<SeriesResult> {
  const loader = ['--import', 'tsx'];
  if (series === 'bare') {
    const bare = await startServer([...loader, 'bench/bare-server.ts'], { PORT: '0' });
    runWrk(bare.port, script); // warm-up is part of no figure: JIT and connection setup
    const result = runWrk(bare.port, script);
    await stop(bare.child);
    return result;
  }
  const prefix = `${PREFIX}-${round}-${series.replace(/\W+/g, '')}`;
  const pump =
    series === 'relay + pump'
      ? await startServer([...loader, 'bench/pump-process.ts'], { BENCH_PREFIX: prefix, REDIS_URL })
      : undefined;
  const relayPort = await freePort();
  const relay = await startServer(
    [...loader, 'src/main.ts'],
    {
      PORT: String(relayPort),
      HOST: '127.0.0.1',
      RELAY_ROLE: 'api',
      RELAY_CONFIG: policyFile(prefix),
      REDIS_URL,
      // Per-webhook lines are info; at this rate they would measure the terminal, not the relay.
      LOG_LEVEL: 'warn',
      RELAY_OUTBOX_DIR: join(work, 'outbox'),
    },
    relayPort,
    series === 'before' ? BEFORE_DIR : undefined,
  );
  runWrk(relay.port, script);
  const cpuBefore = cpuMsOf(relay.child.pid as number);
  const pumpCpuBefore = pump ? cpuMsOf(pump.child.pid as number) : 0;
  const result: SeriesResult = runWrk(relay.port, script);
  // The relay's CPU per answered webhook varies much less with the machine's load than req/s does.
  const perRequest = (ms: number) => (ms * 1000) / (result.rps * DURATION);
  result.cpuUs = perRequest(cpuMsOf(relay.child.pid as number) - cpuBefore);
  if (pump) result.pumpCpuUs = perRequest(cpuMsOf(pump.child.pid as number) - pumpCpuBefore);
  if (pump) {
    // Entries the pump had not queued yet when the load stopped: whether it kept up.
    const redis = new Redis(REDIS_URL);
    result.left = await redis.xlen(writeAheadKey(prefix));
    redis.disconnect();
    await stop(pump.child);
  }
  await stop(relay.child);
  await deletePrefix(prefix, REDIS_URL);
  return result;
}

const line = (name: string, r: SeriesResult, bare?: RunResult) =>
  `  ${name.padEnd(12)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.padStart(8)}  p99 ${r.p99.padStart(8)}` +
  (bare ? `  ratio ${(r.rps / bare.rps).toFixed(2)}` : '') +
  (r.cpuUs !== undefined ? `  relay CPU ${r.cpuUs.toFixed(0)} µs/req` : '') +
  (r.pumpCpuUs !== undefined ? `  pump CPU ${r.pumpCpuUs.toFixed(0)} µs/req` : '') +
  (r.left !== undefined ? `  (write-ahead entries left at the end: ${r.left})` : '') +
  (r.non2xx ? `  NON-2xx: ${r.non2xx}` : '');

async function main(): Promise<void> {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('wrk is not installed: apt-get install wrk');
  }
  process.stdout.write(
    `ingest benchmark: ${machineLine()}; ` +
      `wrk -t2 -c${CONNECTIONS} -d${DURATION}s; each request a new group (critical: Slack + email delivery jobs); ${ROUNDS} round(s)\n\n`,
  );
  const series: Series[] = ['bare', ...(BEFORE_DIR ? (['before'] as const) : []), 'relay', 'relay + pump'];
  const rows: string[] = [];
  for (const alertCount of ALERT_COUNTS) {
    const script = wrkScript(alertCount);
    const ratios = new Map<Series, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      process.stdout.write(
        `${alertCount} alert${alertCount > 1 ? 's' : ''} per webhook, round ${round + 1}\n`,
      );
      let bare: RunResult | undefined;
      for (const name of series) {
        const result = await runSeries(name, script, round);
        if (name === 'bare') bare = result;
        else if (bare) ratios.set(name, [...(ratios.get(name) ?? []), result.rps / bare.rps]);
        process.stdout.write(`${line(name, result, name === 'bare' ? undefined : bare)}\n`);
        rows.push(
          `| ${alertCount} | ${round + 1} | ${name} | ${result.rps.toFixed(0)} | ${bare && name !== 'bare' ? (result.rps / bare.rps).toFixed(2) : ''} | ${result.p50} | ${result.p99} | ${result.cpuUs?.toFixed(0) ?? ''} |`,
        );
      }
    }
    for (const [name, values] of ratios)
      process.stdout.write(
        `  median ratio ${name}: ${quantile(values, 0.5).toFixed(2)} (${values.map((v) => v.toFixed(2)).join(', ')})\n`,
      );
    process.stdout.write('\n');
  }
  process.stdout.write(
    `| alerts | round | server | req/s | ratio to bare | p50 | p99 | relay CPU µs/req |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:ingest failed: ${(error as Error).message}\n`);
  process.exit(1);
});
