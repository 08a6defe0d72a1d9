/**
 * `npm run bench:ingest`: the relay's webhook endpoint against a bare Hono endpoint that only parses the
 * same JSON, with the same payloads and the same load tool (wrk) in the same run, on loopback only.
 * Every request is a new group (a counter in the groupKey) so deduplication cannot short-circuit it.
 * The relay runs with RELAY_ROLE=api so no worker competes for the CPU; Redis is the local one.
 *
 * Options (environment): BENCH_DURATION (seconds per run, default 10), BENCH_CONNECTIONS (default 50).
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { deletePrefix } from '../test/support/redis.js';
import { freePort } from '../test/support/redis-server.js';
import { startServer } from './support.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
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

async function main(): Promise<void> {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('wrk is not installed: apt-get install wrk');
  }
  const policy = join(work, 'policy.yaml');
  writeFileSync(
    policy,
    `routes:\n  - name: critical\n    matchers: ['severity="critical"']\n    slack: ['#alerts-critical']\n    email: [oncall]\n    repeat: 5m\n  - name: warning\n    slack: ['#alerts-warning']\n    repeat: 1h\nfallback_route: warning\nredis_prefix: ${PREFIX}\n`,
  );
  const loader = ['--import', 'tsx'];
  process.stdout.write(
    `ingest benchmark: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `wrk -t2 -c${CONNECTIONS} -d${DURATION}s; each request a new group (critical: Slack + email delivery jobs)\n\n`,
  );
  const rows: string[] = [];
  for (const alertCount of [1, 10]) {
    const script = wrkScript(alertCount);
    const bare = await startServer([...loader, 'bench/bare-server.ts'], { PORT: '0' });
    runWrk(bare.port, script); // warm-up is part of no figure: JIT and connection setup
    const bareResult = runWrk(bare.port, script);
    await stop(bare.child);

    const relayPort = await freePort();
    const relay = await startServer(
      [...loader, 'src/main.ts'],
      {
        PORT: String(relayPort),
        HOST: '127.0.0.1',
        RELAY_ROLE: 'api',
        RELAY_CONFIG: policy,
        REDIS_URL,
        // Per-webhook lines are info; at this rate they would measure the terminal, not the relay.
        LOG_LEVEL: 'warn',
        RELAY_OUTBOX_DIR: join(work, 'outbox'),
      },
      relayPort,
    );
    runWrk(relay.port, script);
    const relayResult = runWrk(relay.port, script);
    await stop(relay.child);
    await deletePrefix(PREFIX, REDIS_URL);

    const ratio = relayResult.rps / bareResult.rps;
    const line = (name: string, r: RunResult) =>
      `  ${name.padEnd(6)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.padStart(8)}  p99 ${r.p99.padStart(8)}${r.non2xx ? `  NON-2xx: ${r.non2xx}` : ''}`;
    const text = `${alertCount} alert${alertCount > 1 ? 's' : ''} per webhook\n${line('bare', bareResult)}\n${line('relay', relayResult)}\n  ratio relay/bare: ${ratio.toFixed(2)}\n`;
    process.stdout.write(`${text}\n`);
    rows.push(
      `| ${alertCount} | ${bareResult.rps.toFixed(0)} | ${relayResult.rps.toFixed(0)} | ${ratio.toFixed(2)} | ${relayResult.p50} | ${relayResult.p99} |`,
    );
  }
  process.stdout.write(
    `| alerts | bare req/s | relay req/s | ratio | relay p50 | relay p99 |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:ingest failed: ${(error as Error).message}\n`);
  process.exit(1);
});
