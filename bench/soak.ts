/**
 * `npm run bench:soak`: memory under a bounded load with deliveries running (issue 10, item 10).
 *
 * Two child processes (bench/soak-child.mjs, plain `node` as in production) get the same webhook stream at
 * the same time: the relay, built to dist/ (API and worker in one process, the default role, delivering to
 * the fake Slack Web API server and to the SMTP sink, both in this process) and a bare-Hono baseline that
 * only parses the JSON. Each child samples its own process.memoryUsage() every second. Phases: a warm-up
 * of SOAK_WARMUP_SECONDS at 5 webhooks/s (first-use costs: JIT, templates, pools), SOAK_IDLE_SECONDS idle
 * (the "start" figure), SOAK_SECONDS of load at SOAK_RATE webhooks/s (three new incidents for each resolve,
 * so every webhook changes something and queues a Slack and an email delivery), then SOAK_AFTER_SECONDS
 * without load. Prints cold, start, peak, end-of-load and after figures for both, and the delivery counts.
 *
 * Goal (issue 10): relay RSS under 250 MB at peak, and within 20% of the start 60 s after the load.
 * Not run by CI (.ci/run): it takes about five minutes and the whole machine.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DEFAULT_SLACK_TOKEN, startFakeSlack } from '../test/support/fake-slack.js';
import { deletePrefix, REDIS_URL } from '../test/support/redis.js';
import { startSmtpSink } from '../test/support/smtp-sink.js';

const IDLE_S = Number(process.env.SOAK_IDLE_SECONDS ?? 10);
const LOAD_S = Number(process.env.SOAK_SECONDS ?? 180);
const AFTER_S = Number(process.env.SOAK_AFTER_SECONDS ?? 60);
const RATE = Number(process.env.SOAK_RATE ?? 50);
/** A few webhooks first, so "start" is a warm idle relay (JIT code, compiled templates, connection pools). */
const WARMUP_S = Number(process.env.SOAK_WARMUP_SECONDS ?? 10);
const WARMUP_RATE = 5;
const MAX_IN_FLIGHT = 64;
/**
 * Node flags of both children. The default is how the relay should run (BENCHMARKS.md, "Soak"):
 * `--optimize-for-size` makes V8 collect before growing its heap; without it (SOAK_NODE_FLAGS=''), the heap
 * grows to hold garbage, native memory tied to that garbage (sockets of finished SMTP and HTTP exchanges)
 * waits with it, and an idle process never collects it.
 */
const NODE_FLAGS = (process.env.SOAK_NODE_FLAGS ?? '--optimize-for-size').split(' ').filter(Boolean);
const MB = 1024 * 1024;

interface Sample {
  t: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

interface Child {
  name: string;
  process: ChildProcess;
  port: number;
  samples: Sample[];
}

function startChild(name: string, mode: 'relay' | 'bare', env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, [...NODE_FLAGS, join(import.meta.dirname, 'soak-child.mjs'), mode], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const samples: Sample[] = [];
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before listening`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const listening = /^listening (\d+)$/.exec(line);
      if (listening) {
        child.removeAllListeners('exit');
        resolve({ name, process: child, port: Number(listening[1]), samples });
      } else if (line.startsWith('{"t"')) samples.push(JSON.parse(line) as Sample);
    });
  });
}

function stopChild(child: Child): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null) return resolve();
    const kill = setTimeout(() => child.process.kill('SIGKILL'), 30_000);
    child.process.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.process.kill('SIGTERM');
  });
}

/** Webhook i: three new incidents (each a vehicle of its own group), then the resolve of the first of them. */
function webhookBody(i: number, startsAt: string): string {
  const resolve = i % 4 === 3;
  const n = resolve ? i - 3 : i;
  const vehicle = `TRK-${String(n).padStart(6, '0')}`;
  const status = resolve ? 'resolved' : 'firing';
  const labels = {
    alertname: 'ReeferTemperatureExcursion',
    severity: 'critical',
    vehicle_id: vehicle,
    zone: 'cargo-1',
  };
  const annotations = {
    summary: `Reefer temperature 9.4C above 8C limit on ${vehicle}`,
    description: `Cargo zone cargo-1 of ${vehicle} has been above its limit for 5 minutes; check the unit and the door sensor.`,
  };
  return JSON.stringify({
    version: '4',
    groupKey: `{}:{alertname="ReeferTemperatureExcursion", vehicle_id="${vehicle}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'relay',
    groupLabels: { alertname: 'ReeferTemperatureExcursion', vehicle_id: vehicle },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status,
        labels,
        annotations,
        startsAt,
        endsAt: resolve ? new Date().toISOString() : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph?g0.expr=reefer_temp',
        fingerprint: (0x100000 + n).toString(16),
      },
    ],
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });

function post(port: number, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/webhook/alertmanager',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Posts RATE webhooks a second for `seconds` to every child, at most MAX_IN_FLIGHT per child at a time. */
async function load(
  children: Child[],
  seconds: number,
  rate: number,
  first: number,
  counts: Map<string, Map<number, number>>,
): Promise<number> {
  const startsAt = new Date().toISOString();
  const started = Date.now();
  const inFlight = new Map(children.map((c) => [c.name, 0]));
  let sent = 0;
  const pending = new Set<Promise<void>>();
  while (Date.now() - started < seconds * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    while (sent < due) {
      const body = webhookBody(first + sent, startsAt);
      for (const child of children) {
        if (inFlight.get(child.name)! >= MAX_IN_FLIGHT) {
          // The process is this far behind: the webhook is not sent to it (counted as "skipped").
          const byStatus = counts.get(child.name)!;
          byStatus.set(-1, (byStatus.get(-1) ?? 0) + 1);
          continue;
        }
        inFlight.set(child.name, inFlight.get(child.name)! + 1);
        const p = post(child.port, body).then((status) => {
          inFlight.set(child.name, inFlight.get(child.name)! - 1);
          const byStatus = counts.get(child.name)!;
          byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
          pending.delete(p);
        });
        pending.add(p);
      }
      sent++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(pending);
  return sent;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => (bytes / MB).toFixed(0);

function figures(samples: Sample[], from: number, to: number) {
  const window = samples.filter((s) => s.t >= from && s.t <= to);
  const max = (k: keyof Sample) => Math.max(...window.map((s) => s[k]));
  return {
    rss: max('rss'),
    heapUsed: max('heapUsed'),
    heapTotal: max('heapTotal'),
    external: max('external'),
    arrayBuffers: max('arrayBuffers'),
  };
}

function atTime(samples: Sample[], t: number): Sample {
  return samples.reduce((best, s) => (Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best), samples[0]!);
}

/** The relay child runs the build, as production does (`node dist/main.js`). */
function build(): void {
  process.stdout.write('building dist/ (npm run build)\n');
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {
    cwd: join(import.meta.dirname, '..'),
    stdio: 'inherit',
  });
  if (!existsSync(join(import.meta.dirname, '..', 'dist', 'app', 'relay.js')))
    throw new Error(`the build produced no dist/app/relay.js (tsc exit ${result.status})`);
}

async function main(): Promise<void> {
  if (process.env.SOAK_SKIP_BUILD !== '1') build();
  const prefix = `bench-soak-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), 'relay-soak-'));
  const [fake, sink] = await Promise.all([startFakeSlack(), startSmtpSink()]);
  const policy = join(work, 'policy.yaml');
  writeFileSync(
    policy,
    `routes:\n  - name: critical\n    matchers: ['severity="critical"']\n    slack: ['#alerts-critical']\n    email: [oncall]\n    repeat: 1h\nfallback_route: critical\ndelivery: {slack_pace: 0.001}\nredis_prefix: ${prefix}\n`,
  );
  const relay = await startChild('relay', 'relay', {
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL,
    LOG_LEVEL: 'error',
    RELAY_CONFIG: policy,
    RELAY_OUTBOX_DIR: join(work, 'outbox'),
    RELAY_ONCALL_EMAIL: 'oncall@coldchain.example',
    // SOAK_SLACK=preview / SOAK_SMTP=preview write that channel to the outbox instead (to tell the costs apart).
    ...(process.env.SOAK_SLACK === 'preview'
      ? {}
      : { SLACK_BOT_TOKEN: DEFAULT_SLACK_TOKEN, SLACK_API_URL: fake.url }),
    ...(process.env.SOAK_SMTP === 'preview' ? {} : { SMTP_URL: sink.url }),
  });
  const bare = await startChild('bare Hono', 'bare', {});
  const children = [relay, bare];
  // Keep this process's own memory flat: count the fakes' records and drop them as we go.
  let slackCalls = 0;
  let mails = 0;
  const trim = setInterval(() => {
    slackCalls += fake.calls.length;
    fake.calls.length = 0;
    mails += sink.messages.length;
    sink.messages.length = 0;
  }, 1000);
  const counts = new Map(children.map((c) => [c.name, new Map<number, number>()]));
  try {
    const t0 = Date.now();
    const coldStart = t0 + 2000;
    // Warm-up webhooks are numbered after the load's, so they open groups of their own.
    const warmupCounts = new Map(children.map((c) => [c.name, new Map<number, number>()]));
    await load(children, WARMUP_S, WARMUP_RATE, 10_000_000, warmupCounts);
    await sleep(IDLE_S * 1000);
    const loadStart = Date.now();
    process.stdout.write(`load: ${RATE} webhooks/s for ${LOAD_S} s\n`);
    const sent = await load(children, LOAD_S, RATE, 0, counts);
    const loadEnd = Date.now();
    process.stdout.write(`load done (${sent} webhooks); ${AFTER_S} s without load\n`);
    await sleep(AFTER_S * 1000);
    const end = Date.now();
    const metrics = await (await fetch(`http://127.0.0.1:${relay.port}/metrics`)).text();
    const metric = (re: RegExp) =>
      metrics
        .split('\n')
        .filter((l) => re.test(l))
        .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);

    console.log(
      `\nMachine: ${cpus().length} × ${cpus()[0]?.model}, ${mb(totalmem())} MB RAM (${mb(freemem())} free), Node ${process.version}`,
    );
    console.log(
      `Load: ${RATE} webhooks/s for ${LOAD_S} s (${sent} sent), idle ${IDLE_S} s before, ${AFTER_S} s after; node flags: ${NODE_FLAGS.join(' ') || '(none)'}\n`,
    );
    console.log(
      `| process | RSS cold (after start) | RSS start (warm, idle) | RSS peak | RSS end of load | RSS ${AFTER_S} s after | heap used peak | heap total peak | external peak | array buffers peak |`,
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const child of children) {
      const cold = atTime(child.samples, coldStart);
      const start = atTime(child.samples, loadStart - 1000);
      const peak = figures(child.samples, t0, end);
      const endOfLoad = atTime(child.samples, loadEnd);
      const after = atTime(child.samples, end);
      console.log(
        `| ${child.name} | ${mb(cold.rss)} MB | ${mb(start.rss)} MB | ${mb(peak.rss)} MB | ${mb(endOfLoad.rss)} MB | ${mb(after.rss)} MB (${((after.rss / start.rss - 1) * 100).toFixed(0)}%) | ${mb(peak.heapUsed)} MB | ${mb(peak.heapTotal)} MB | ${mb(peak.external)} MB | ${mb(peak.arrayBuffers)} MB |`,
      );
    }
    const relayStart = atTime(relay.samples, loadStart - 1000).rss;
    const relayPeak = figures(relay.samples, t0, end).rss;
    const relayAfter = atTime(relay.samples, end).rss;
    console.log(
      `\ngoal (issue 10): peak under 250 MB: ${relayPeak < 250 * MB ? 'yes' : 'NO'} (${mb(relayPeak)} MB); ${AFTER_S} s after the load within 20% of the start: ${relayAfter <= relayStart * 1.2 ? 'yes' : 'NO'} (${mb(relayAfter)} vs ${mb(relayStart)} MB)`,
    );
    for (const child of children)
      console.log(
        `${child.name} answers by HTTP status (0: connection failed, -1: skipped, ${MAX_IN_FLIGHT} already in flight): ${JSON.stringify(Object.fromEntries(counts.get(child.name)!))}`,
      );
    slackCalls += fake.calls.length;
    mails += sink.messages.length;
    console.log(
      `deliveries: ${metric(/^relay_deliveries_total\{.*outcome="delivered"/)} delivered, ${metric(/^relay_deliveries_total\{.*outcome="dead_lettered"/)} dead-lettered; still queued: ${metric(/^relay_queue_jobs\{state="(waiting|active)"/)}; Slack calls ${slackCalls}, mails ${mails}`,
    );
    if (process.env.SOAK_SAMPLES)
      writeFileSync(
        process.env.SOAK_SAMPLES,
        JSON.stringify({ relay: relay.samples, bare: bare.samples, loadStart, loadEnd }),
      );
  } finally {
    clearInterval(trim);
    await Promise.all(children.map(stopChild));
    agent.destroy();
    await fake.close();
    await sink.close();
    await deletePrefix(prefix);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
