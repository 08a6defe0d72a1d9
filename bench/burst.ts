/**
 * `npm run bench:burst`: an Alertmanager restart that re-sends every group at once. 5,000 distinct critical
 * groups (one alert each) are posted over 64 keep-alive connections to the relay (`src/main.ts` in a child
 * process, API and workers, on a redis-server of its own), then the run waits until every delivery has a
 * recorded outcome: per group one Slack post to the fake Slack server (no rate limit; `slack_pace` 1ms) and
 * one email to the preview outbox. The same requests go first to the bare Hono endpoint
 * (bench/bare-server.ts), the baseline of the same run.
 *
 * Prints non-2xx count, answer time p50/p99 (goal: 0 non-2xx, p99 < 250 ms), the time until the last
 * delivery's outcome was recorded and the last Slack post arrived, and the peak RSS (VmHWM) of the relay and
 * of redis-server. Then Alertmanager's own Slack notifier gets the same groups (see measureAlertmanager).
 *
 *   --groups N (5000)  --connections N (64)  --pace DURATION (1ms)  --limit SECONDS (600, wait for outcomes)
 *   --skip-alertmanager
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { alertmanager } from '../test/e2e/support.js';
import { DEFAULT_SLACK_TOKEN, type FakeSlack, startFakeSlack } from '../test/support/fake-slack.js';
import { freePort, startOwnRedis } from '../test/support/redis-server.js';
import {
  counterSum,
  cpuMsOf,
  firingWebhook,
  machineLine,
  peakRssMiB,
  quantile,
  redisPid,
  sleep,
  startRelayProcess,
  startServer,
  writePolicy,
} from './support.js';

const { values: args } = parseArgs({
  options: {
    groups: { type: 'string', default: '5000' },
    connections: { type: 'string', default: '64' },
    pace: { type: 'string', default: '1ms' },
    limit: { type: 'string', default: '600' },
    'skip-alertmanager': { type: 'boolean', default: false },
  },
});
const GROUPS = Number(args.groups);
const CONNECTIONS = Number(args.connections);
const LIMIT_MS = Number(args.limit) * 1000;

interface BurstResult {
  answerMs: number[];
  non2xx: number;
  errors: number;
  wallMs: number;
}

function post(agent: Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Every body once, over `CONNECTIONS` keep-alive connections, as fast as they are answered. */
async function burst(baseUrl: string, bodies: readonly string[]): Promise<BurstResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const url = new URL('/webhook/alertmanager', baseUrl);
  const answerMs: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as string;
        const sent = performance.now();
        try {
          const status = await post(agent, url, body);
          answerMs.push(performance.now() - sent);
          if (status < 200 || status > 299) non2xx++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const wallMs = performance.now() - started;
  agent.destroy();
  return { answerMs, non2xx, errors, wallMs };
}

function bodiesFor(run: string): string[] {
  return Array.from({ length: GROUPS }, (_, i) =>
    firingWebhook({
      groupKey: `{}:{alertname="ReeferUnitFault", vehicle_id="TRK-${i}", run="${run}"}`,
      alertname: 'ReeferUnitFault',
      severity: 'critical',
      vehicle: `TRK-${i}`,
      fingerprint: `${run}${i.toString(16)}`,
    }),
  );
}

async function startBare(): Promise<{ child: ChildProcess; url: string }> {
  const { child, port } = await startServer(['--import', 'tsx', 'bench/bare-server.ts'], { PORT: '0' });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Polls the relay's delivery counter (every outcome: delivered, previewed, dead-lettered) until `count` or `limitMs`. */
async function waitForOutcomes(relayUrl: string, count: number, limitMs: number): Promise<number> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    const recorded = counterSum(await (await fetch(`${relayUrl}/metrics`)).text(), 'relay_deliveries_total');
    if (recorded >= count || performance.now() > deadline) return recorded;
    await sleep(100);
  }
}

/**
 * Alertmanager's own Slack notifier on the same work: the same groups pushed to it as alerts (batches of 64,
 * as Prometheus sends them), one group per vehicle, group_wait 0s, posting to the same fake Slack. Returns
 * the time from the first push until the last group's chat.postMessage arrived, and its peak RSS.
 */
async function measureAlertmanager(
  fake: FakeSlack,
  work: string,
  run: string,
): Promise<{ lastPostedMs: number; posted: number; peakMiB: number; pushMs: number[] }> {
  const port = await freePort();
  const config = join(work, 'alertmanager.yml');
  writeFileSync(
    config,
    `route:
  receiver: slack
  group_by: [alertname, vehicle_id]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: slack
    slack_configs:
      - api_url: ${fake.url}chat.postMessage
        channel: '#alerts-critical'
        send_resolved: false
        http_config: { authorization: { credentials: ${DEFAULT_SLACK_TOKEN} } }
`,
  );
  const child = spawn(
    alertmanager.path(),
    [
      `--config.file=${config}`,
      `--storage.path=${join(work, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    while (
      !(await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error('Alertmanager did not become ready within 30 s');
      await sleep(100);
    }
    const before = fake.callsTo('chat.postMessage').length;
    const startsAt = new Date().toISOString();
    const batches = Array.from({ length: Math.ceil(GROUPS / 64) }, (_, b) =>
      JSON.stringify(
        Array.from({ length: Math.min(64, GROUPS - b * 64) }, (_, j) => {
          const vehicle = `TRK-${b * 64 + j}`;
          return {
            labels: { alertname: 'ReeferUnitFault', severity: 'critical', vehicle_id: vehicle, run },
            annotations: { summary: `ReeferUnitFault on ${vehicle}` },
            startsAt,
            generatorURL: 'http://prometheus:9090/graph',
          };
        }),
      ),
    );
    const pushMs: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < batches.length) {
          const body = batches[next++] as string;
          const sent = performance.now();
          const res = await fetch(`${url}/api/v2/alerts`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`Alertmanager answered ${res.status} to a push`);
          pushMs.push(performance.now() - sent);
        }
      }),
    );
    let posted = 0;
    let lastPostedMs = Number.NaN;
    while (performance.now() - started < LIMIT_MS) {
      posted = fake.callsTo('chat.postMessage').length - before;
      if (posted >= GROUPS) {
        lastPostedMs = performance.now() - started;
        break;
      }
      await sleep(100);
    }
    return { lastPostedMs, posted, peakMiB: peakRssMiB(child.pid as number), pushMs };
  } finally {
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

async function main(): Promise<void> {
  const run = String(process.pid);
  const prefix = `bench-burst-${run}`;
  const work = mkdtempSync(join(tmpdir(), 'relay-burst-'));
  const lines = [
    `burst benchmark: ${GROUPS} distinct critical groups at once over ${CONNECTIONS} connections; per group a Slack post (fake Slack, no rate limit, slack_pace ${args.pace}) and an email (preview outbox)`,
    machineLine(),
  ];
  const expected = GROUPS * 2;

  const bare = await startBare();
  let bareResult: BurstResult;
  try {
    await burst(bare.url, bodiesFor(`w${run}`).slice(0, 500)); // warm-up: JIT and connection setup
    bareResult = await burst(bare.url, bodiesFor(run));
  } finally {
    await new Promise<void>((resolve) => {
      bare.child.once('exit', () => resolve());
      bare.child.kill('SIGTERM');
    });
  }

  const fake = await startFakeSlack();
  const redisServer = await startOwnRedis();
  const redis = new Redis(redisServer.url);
  const relay = await startRelayProcess(await freePort(), {
    REDIS_URL: redisServer.url,
    RELAY_CONFIG: writePolicy(
      work,
      `routes:\n  - name: critical\n    matchers: ['severity="critical"']\n    slack: ['#alerts-critical']\n    email: [oncall@coldchain.example]\n    repeat: 1h\nfallback_route: critical\ndelivery: { slack_pace: ${args.pace}, shutdown_grace: 2s }\nredis_prefix: ${prefix}\n`,
    ),
    SLACK_BOT_TOKEN: DEFAULT_SLACK_TOKEN,
    SLACK_API_URL: fake.url,
    RELAY_OUTBOX_DIR: join(work, 'outbox'),
    LOG_LEVEL: 'warn',
  });
  try {
    const redisProcess = await redisPid(redis);
    // Warm-up (JIT, connections), delivered before the measured burst starts: a running relay meets a restart.
    const warmUp = 200;
    await burst(relay.url, bodiesFor(`w${run}`).slice(0, warmUp));
    const deliveredBefore = await waitForOutcomes(relay.url, warmUp * 2, 120_000);
    const cpuBefore = { relay: cpuMsOf(relay.pid), redis: cpuMsOf(redisProcess) };
    const started = performance.now();
    const startedAt = Date.now();
    const relayResult = await burst(relay.url, bodiesFor(run));
    const recorded =
      (await waitForOutcomes(relay.url, deliveredBefore + expected, LIMIT_MS)) - deliveredBefore;
    const lastRecordedMs = recorded >= expected ? performance.now() - started : Number.NaN;
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    const cpu = {
      relay: cpuMsOf(relay.pid) - cpuBefore.relay,
      redis: cpuMsOf(redisProcess) - cpuBefore.redis,
    };
    const peak = { relay: peakRssMiB(relay.pid), redis: peakRssMiB(redisProcess) };
    const deadLetters = counterSum(metrics, 'relay_dead_letters_total');
    const slackPosts = fake.callsTo('chat.postMessage').filter((c) => c.at >= startedAt);
    const lastSlackMs =
      slackPosts.length >= GROUPS ? (slackPosts[GROUPS - 1]?.at ?? 0) - startedAt : Number.NaN;
    const row = (name: string, r: BurstResult) =>
      `${name.padEnd(6)} non-2xx ${r.non2xx}, errors ${r.errors}, answer p50 ${fmt(quantile(r.answerMs, 0.5))}, p99 ${fmt(quantile(r.answerMs, 0.99))}, max ${fmt(quantile(r.answerMs, 1))}; all ${GROUPS} answered in ${(r.wallMs / 1000).toFixed(1)} s`;
    const p99 = quantile(relayResult.answerMs, 0.99);
    lines.push(
      row('bare', bareResult),
      row('relay', relayResult),
      `p99 ratio relay/bare: ${(p99 / quantile(bareResult.answerMs, 0.99)).toFixed(1)}×`,
      `goal 0 non-2xx and p99 < 250 ms: ${relayResult.non2xx + relayResult.errors === 0 && p99 < 250 ? 'met' : 'NOT met'}`,
      `deliveries with a recorded outcome: ${recorded}/${expected} (dead letters ${deadLetters}); last recorded after ${Number.isNaN(lastRecordedMs) ? `not within ${args.limit} s` : `${(lastRecordedMs / 1000).toFixed(1)} s`}`,
      `last of the ${GROUPS} Slack posts received after ${(lastSlackMs / 1000).toFixed(1)} s`,
      `peak RSS: relay ${peak.relay.toFixed(0)} MiB, redis-server ${peak.redis.toFixed(0)} MiB`,
      `CPU from burst start to last outcome: relay ${(cpu.relay / 1000).toFixed(1)} s, redis-server ${(cpu.redis / 1000).toFixed(1)} s`,
    );
  } finally {
    await relay.stop();
    redis.disconnect();
    await redisServer.stop();
  }

  try {
    if (args['skip-alertmanager']) {
      lines.push('Alertmanager: skipped (--skip-alertmanager)');
    } else {
      const am = await measureAlertmanager(fake, work, run);
      lines.push(
        `Alertmanager ${alertmanager.path()} on the same groups (its own Slack notifier, same fake Slack): ${am.posted}/${GROUPS} posted; last after ${Number.isNaN(am.lastPostedMs) ? `not within ${args.limit} s` : `${(am.lastPostedMs / 1000).toFixed(1)} s`}; peak RSS ${am.peakMiB.toFixed(0)} MiB; its push API (batches of 64) answered p50 ${fmt(quantile(am.pushMs, 0.5))}, p99 ${fmt(quantile(am.pushMs, 0.99))}`,
      );
    }
  } finally {
    process.stdout.write(`${lines.join('\n')}\n`);
    await fake.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:burst failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
