/**
 * End-to-end helpers: real Alertmanager processes (the Debian binary) on free loopback ports, clustered or
 * not, and a sender that pushes alerts to every replica the way Prometheus does.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { alertmanagerBinary } from '../deploy/support.js';
import { pollUntil } from '../support/poll.js';
import { freePort } from '../support/redis-server.js';

/** What a missing binary fails with (unless SKIP_E2E=1, which skips instead). */
export const ALERTMANAGER_MISSING = 'alertmanager not found: apt-get install prometheus-alertmanager';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Alertmanager server binary, found as test/deploy does (PATH, `alertmanager` or Debian's
 * `prometheus-alertmanager`), or at ALERTMANAGER_BIN (e.g. an upstream build). `skip` is true only when it
 * is missing and SKIP_E2E=1; otherwise a missing binary fails the test with what to install.
 */
export const alertmanager = (() => {
  const override = process.env.ALERTMANAGER_BIN;
  const found = override
    ? isExecutable(override)
      ? override
      : undefined
    : alertmanagerBinary.skip
      ? undefined
      : tryPath();
  return {
    skip: found === undefined && process.env.SKIP_E2E === '1',
    path(): string {
      if (found === undefined) {
        throw new Error(
          `${ALERTMANAGER_MISSING} (Debian/Ubuntu)${override ? `; ALERTMANAGER_BIN=${override} is not an executable` : ''}, ` +
            'or set SKIP_E2E=1 to skip the end-to-end tests',
        );
      }
      return found;
    },
  };
})();

function tryPath(): string | undefined {
  try {
    return alertmanagerBinary.path();
  } catch {
    return undefined;
  }
}

export { freePort };

/** Polls `check` until it returns true; the error names `what` and the last problem seen. */
export function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  return pollUntil(check, timeoutMs, () => `timed out after ${timeoutMs} ms waiting for ${what}`, intervalMs);
}

export interface RelayReceiverOptions {
  relayUrl: string;
  token: string;
  groupBy: string[];
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
}

/** An Alertmanager config with one receiver, the relay, as deploy/monitoring sends to it (bearer, max_alerts). */
export function relayAlertmanagerConfig(o: RelayReceiverOptions): string {
  return stringify({
    route: {
      receiver: 'relay',
      group_by: o.groupBy,
      group_wait: o.groupWait,
      group_interval: o.groupInterval,
      repeat_interval: o.repeatInterval,
    },
    receivers: [
      {
        name: 'relay',
        webhook_configs: [
          {
            url: `${o.relayUrl}/webhook/alertmanager`,
            send_resolved: true,
            max_alerts: 50,
            http_config: { authorization: { type: 'Bearer', credentials: o.token } },
          },
        ],
      },
    ],
  });
}

export interface AlertmanagerProcess {
  readonly name: string;
  readonly url: string;
  readonly running: boolean;
  /** stdout + stderr so far (bounded), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

interface StartOptions {
  binary: string;
  name: string;
  configFile: string;
  storageDir: string;
  webPort: number;
  /** Cluster listen port and peers; undefined disables clustering (`--cluster.listen-address=`). */
  cluster?: { port: number; peers: string[] } | undefined;
}

const LOG_LIMIT = 256 * 1024;

function startAlertmanager(o: StartOptions): AlertmanagerProcess {
  const clusterArgs = o.cluster
    ? [
        `--cluster.listen-address=127.0.0.1:${o.cluster.port}`,
        `--cluster.advertise-address=127.0.0.1:${o.cluster.port}`,
        ...o.cluster.peers.map((p) => `--cluster.peer=${p}`),
        // Defaults are tuned for real networks (settle up to 1m, peer timeout 15s, push-pull 1m); a loopback
        // pair converges in well under a second, so the test need not wait for them.
        '--cluster.gossip-interval=50ms',
        '--cluster.pushpull-interval=1s',
        '--cluster.settle-timeout=3s',
        '--cluster.peer-timeout=1s',
        '--cluster.probe-interval=200ms',
      ]
    : ['--cluster.listen-address='];
  const args = [
    `--config.file=${o.configFile}`,
    `--storage.path=${o.storageDir}`,
    `--web.listen-address=127.0.0.1:${o.webPort}`,
    '--log.level=debug',
    ...clusterArgs,
  ];
  const child: ChildProcess = spawn(o.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = `$ ${o.binary} ${args.join(' ')}\n`;
  const append = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > LOG_LIMIT) output = output.slice(-LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      output += `\nspawn error: ${error.message}`;
      resolve();
    });
  });
  let running = true;
  void exited.then(() => {
    running = false;
  });
  return {
    name: o.name,
    url: `http://127.0.0.1:${o.webPort}`,
    log: () => output,
    async stop() {
      if (!running) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => false), sleep(5000).then(() => true)]);
      if (killed) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    get running() {
      return running;
    },
  };
}

export interface AlertmanagerPair {
  readonly replicas: readonly AlertmanagerProcess[];
  readonly urls: string[];
  readonly clustered: boolean;
  /** Both replicas' logs, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

export interface ClusterStatus {
  status: string;
  peers?: { name: string; address: string }[];
}

export async function alertmanagerStatus(url: string): Promise<{ cluster: ClusterStatus }> {
  const res = await fetch(`${url}/api/v2/status`, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${url}/api/v2/status answered ${res.status}`);
  return (await res.json()) as { cluster: ClusterStatus };
}

/** Sum of `alertmanager_notifications_total{integration="webhook"}` on one replica: webhooks it sent. */
export async function webhookNotificationsSent(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
  let total = 0;
  for (const match of text.matchAll(
    /^alertmanager_notifications_total\{[^}]*integration="webhook"[^}]*\}\s+(\S+)$/gm,
  )) {
    total += Number(match[1]);
  }
  return total;
}

/**
 * Two Alertmanagers on the given web ports. Clustered: each peers with the other; the promise resolves once
 * both report the cluster `ready` with two peers. Unclustered: two independent replicas (a partitioned
 * pair), each notifying on its own.
 */
export async function startAlertmanagerPair(o: {
  binary: string;
  webPorts: [number, number];
  clustered: boolean;
  config: string;
  timeoutMs?: number;
}): Promise<AlertmanagerPair> {
  const dir = await mkdtemp(join(tmpdir(), 'coldchain-e2e-am-'));
  const configFile = join(dir, 'alertmanager.yml');
  await writeFile(configFile, o.config);
  const clusterPorts = o.clustered ? [await freePort(), await freePort()] : [];
  const replicas = o.webPorts.map((webPort, i) =>
    startAlertmanager({
      binary: o.binary,
      name: `am-${i}`,
      configFile,
      storageDir: join(dir, `data-${i}`),
      webPort,
      cluster: o.clustered
        ? {
            port: clusterPorts[i]!,
            peers: clusterPorts.filter((_, j) => j !== i).map((p) => `127.0.0.1:${p}`),
          }
        : undefined,
    }),
  );
  const pair: AlertmanagerPair = {
    replicas,
    urls: replicas.map((r) => r.url),
    clustered: o.clustered,
    logs: () => replicas.map((r) => `--- ${r.name} (${r.url}) ---\n${r.log()}`).join('\n'),
    async stop() {
      // One at a time: a clustered replica leaving waits for its peer to acknowledge, which a peer that is
      // itself shutting down never does (each would wait for the kill timeout).
      for (const replica of replicas) await replica.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const replica of replicas) {
      await waitUntil(
        `${replica.name} at ${replica.url} to be ready`,
        async () => {
          if (!replica.running) throw new Error(`${replica.name} exited:\n${replica.log()}`);
          if (!(await fetch(`${replica.url}/-/ready`)).ok) return false;
          const { cluster } = await alertmanagerStatus(replica.url);
          // /-/ready does not wait for gossip to settle; the status API says when it has.
          return o.clustered
            ? cluster.status === 'ready' && (cluster.peers?.length ?? 0) === 2
            : cluster.status === 'disabled';
        },
        o.timeoutMs ?? 10_000,
      );
    }
  } catch (error) {
    await pair.stop();
    throw new Error(`${(error as Error).message}\n${pair.logs()}`);
  }
  return pair;
}

export interface AlertSpec {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** When the rule became active (Prometheus' activeAt); the same on every push. */
  startsAt: Date;
  generatorURL: string;
}

/**
 * Sends alerts to every Alertmanager like Prometheus' notifier: the same startsAt on every push, endsAt a
 * little ahead while firing (so a vanished Prometheus lets them time out), re-sent periodically; a resolved
 * alert is sent with endsAt = the resolve time and keeps being re-sent that way.
 */
export class PrometheusLikeSender {
  /** Push failures (non-2xx or network), which the test asserts are none. */
  readonly errors: string[] = [];
  pushes = 0;
  private readonly resolvedAt = new Map<number, Date>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly targets: readonly string[],
    private readonly alerts: readonly AlertSpec[],
    private readonly intervalMs = 1000,
    private readonly firingTtlMs = 30_000,
  ) {}

  /** Pushes now, then every intervalMs. */
  async start(): Promise<void> {
    await this.push();
    this.timer = setInterval(() => {
      this.inFlight = this.inFlight.then(() => this.push());
    }, this.intervalMs);
  }

  /** Marks alerts resolved (all by default) and pushes at once. */
  async resolve(indexes: number[] = this.alerts.map((_, i) => i)): Promise<void> {
    const at = new Date();
    for (const i of indexes) if (!this.resolvedAt.has(i)) this.resolvedAt.set(i, at);
    this.inFlight = this.inFlight.then(() => this.push());
    await this.inFlight;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private body(now: number): string {
    return JSON.stringify(
      this.alerts.map((a, i) => ({
        labels: a.labels,
        annotations: a.annotations,
        startsAt: a.startsAt.toISOString(),
        endsAt: (this.resolvedAt.get(i) ?? new Date(now + this.firingTtlMs)).toISOString(),
        generatorURL: a.generatorURL,
      })),
    );
  }

  private async push(): Promise<void> {
    const body = this.body(Date.now());
    this.pushes++;
    await Promise.all(
      this.targets.map(async (url) => {
        try {
          const res = await fetch(`${url}/api/v2/alerts`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(30_000),
          });
          if (!res.ok) this.errors.push(`${url}: ${res.status} ${await res.text()}`);
        } catch (error) {
          this.errors.push(`${url}: ${(error as Error).message}`);
        }
      }),
    );
  }
}
