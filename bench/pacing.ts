/**
 * `npm run bench:pacing`: a backlog of warnings for one Slack channel drained at Slack's pace (1 message/s per
 * channel, the fake Slack server answering 429 beyond it), and criticals for another, idle channel. Prints
 * how long each critical took from webhook to visible message, and the relay's CPU use while paced against an
 * idle baseline (issue 9, item 5: goals 1 s and 10% of a core). The relay runs in this process; the fake
 * Slack server beside it answers about one call per second while paced, a negligible share.
 *
 *   PACING_BACKLOG (2000)   warnings queued for #alerts-warning
 *   PACING_WINDOW_S (20)    length of each CPU measurement window
 *   PACING_SLACK_PACE (1s)  the relay's delivery.slack_pace
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningRelay, startRelay } from '../src/app/relay.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { DEFAULT_SLACK_TOKEN, type FakeSlack, startFakeSlack } from '../test/support/fake-slack.js';
import { deletePrefix } from '../test/support/redis.js';

const BACKLOG = Number(process.env.PACING_BACKLOG ?? 2000);
const WINDOW_MS = Number(process.env.PACING_WINDOW_S ?? 20) * 1000;
const SLACK_PACE = process.env.PACING_SLACK_PACE ?? '1s';
const PARALLEL_POSTS = 16;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function payload(severity: 'warning' | 'critical', n: number, run: string): string {
  const vehicle = `TRK-${severity[0]}${n}`;
  const labels = { alertname: 'ReeferDoorOpen', severity, vehicle_id: vehicle };
  return JSON.stringify({
    version: '4',
    groupKey: `{}:{alertname="ReeferDoorOpen", vehicle_id="${vehicle}", run="${run}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'relay',
    groupLabels: { alertname: 'ReeferDoorOpen', vehicle_id: vehicle },
    commonLabels: labels,
    commonAnnotations: { summary: `Reefer door open on ${vehicle}` },
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status: 'firing',
        labels,
        annotations: { summary: `Reefer door open on ${vehicle}` },
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: `${severity[0]}${n.toString(16)}`,
      },
    ],
  });
}

async function postWebhook(relay: RunningRelay, body: string): Promise<string> {
  const res = await fetch(`${relay.url}/webhook/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { incidentId: string }).incidentId;
}

/** From the webhook's POST to its root message in the fake Slack server (ms). */
async function criticalLatency(
  relay: RunningRelay,
  fake: FakeSlack,
  n: number,
  run: string,
): Promise<number> {
  const started = performance.now();
  const incidentId = await postWebhook(relay, payload('critical', n, run));
  for (;;) {
    const seen = fake
      .topLevelMessages('#alerts-critical')
      .some((m) => JSON.stringify(m.attachments ?? []).includes(incidentId));
    if (seen) return performance.now() - started;
    if (performance.now() - started > 60_000) throw new Error('the critical was not posted within 60 s');
    await sleep(5);
  }
}

/** CPU time of this process over `ms`, as a share of one core. */
async function cpuShare(ms: number): Promise<number> {
  const before = process.cpuUsage();
  const started = performance.now();
  await sleep(ms);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / (performance.now() - started);
}

async function waitsOf(relay: RunningRelay): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('relay_rate_limit_waits_total{channel="slack"}'));
  return Number(line?.split(' ').at(-1) ?? 0);
}

async function main(): Promise<void> {
  const prefix = `bench-pacing-${process.pid}`;
  const run = String(process.pid);
  const work = mkdtempSync(join(tmpdir(), 'relay-pacing-'));
  const fake = await startFakeSlack({ rateLimitPerChannel: { perSecond: 1, retryAfterSeconds: 1 } });
  const policy = join(work, 'policy.yaml');
  writeFileSync(
    policy,
    `routes:
  - name: critical
    matchers: ['severity="critical"']
    slack: ['#alerts-critical']
    repeat: 5m
  - name: warning
    matchers: ['severity="warning"']
    slack: ['#alerts-warning']
    repeat: 1h
fallback_route: warning
delivery: { slack_pace: ${SLACK_PACE}, shutdown_grace: 1s }
redis_prefix: ${prefix}
`,
  );
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    RELAY_CONFIG: policy,
    SLACK_BOT_TOKEN: DEFAULT_SLACK_TOKEN,
    SLACK_API_URL: fake.url,
    RELAY_OUTBOX_DIR: join(work, 'outbox'),
  });
  const relay = await startRelay(config, { logger: createLogger('warn') });
  const lines = [
    `pacing benchmark: ${BACKLOG} warnings for #alerts-warning (slack_pace ${SLACK_PACE}, fake Slack allows 1 message/s per channel), criticals for idle #alerts-critical`,
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  ];
  try {
    await sleep(2000);
    const idle = await cpuShare(WINDOW_MS);
    lines.push(`idle relay CPU:                       ${(idle * 100).toFixed(1)}% of a core`);

    const queuing = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL_POSTS }, async () => {
        while (next < BACKLOG) await postWebhook(relay, payload('warning', next++, run));
      }),
    );
    lines.push(
      `backlog accepted in:                  ${((performance.now() - queuing) / 1000).toFixed(1)} s`,
    );
    // The backlog's jobs are queued (and being taken): this critical is ahead of all of them by priority.
    const queuedLatency = await criticalLatency(relay, fake, 1, run);
    lines.push(`critical behind the queued backlog:   ${queuedLatency.toFixed(0)} ms`);

    // Steady state: every warning has been taken once and sleeps until its slot.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const counts = await relay.queue.getJobCounts('waiting', 'prioritized', 'active');
      if ((counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.active ?? 0) <= 1) break;
      if (Date.now() > deadline) throw new Error('the backlog was not taken within 120 s');
      await sleep(100);
    }
    const pacedLatency = await criticalLatency(relay, fake, 2, run);
    lines.push(`critical while the backlog is paced:  ${pacedLatency.toFixed(0)} ms`);

    const postedBefore = fake.topLevelMessages('#alerts-warning').length;
    const waitsBefore = await waitsOf(relay);
    const paced = await cpuShare(WINDOW_MS);
    const posted = fake.topLevelMessages('#alerts-warning').length - postedBefore;
    const waits = (await waitsOf(relay)) - waitsBefore;
    lines.push(`paced relay CPU:                      ${(paced * 100).toFixed(1)}% of a core`);
    lines.push(
      `in that window:                       ${posted} warnings posted, ${waits} pace waits, ${fake.rateLimitedCount} 429s in all`,
    );
  } finally {
    process.stdout.write(`${lines.join('\n')}\n`);
    await relay.stop();
    await fake.close();
    await deletePrefix(prefix);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
