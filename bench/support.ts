/**
 * Helpers shared by bench:burst, bench:reminders and bench:latency: the webhook body, the machine line,
 * percentiles, a relay in a child process, and what Redis and a process use (memory, peak RSS). Everything
 * targets loopback; test/support provides the fakes (Slack, SMTP), our own redis-server and cleanup.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One line that says where the figures were taken, load average included (the machine is shared). */
export function machineLine(): string {
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${load} at start`;
}

/** The value at quantile `q` (0..1) of `values` (nearest rank); NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

export function describeMs(values: readonly number[]): string {
  const f = (q: number) => `${quantile(values, q).toFixed(0)} ms`;
  return `p50 ${f(0.5)}, p99 ${f(0.99)}, max ${f(1)} (n=${values.length})`;
}

/** An Alertmanager webhook (version 4) for one firing alert; `groupKey` makes it a group of its own. */
export function firingWebhook(opts: {
  groupKey: string;
  alertname: string;
  severity: string;
  vehicle: string;
  fingerprint: string;
}): string {
  const labels = { alertname: opts.alertname, severity: opts.severity, vehicle_id: opts.vehicle };
  const summary = `${opts.alertname} on ${opts.vehicle}`;
  return JSON.stringify({
    version: '4',
    groupKey: opts.groupKey,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'relay',
    groupLabels: { alertname: opts.alertname, vehicle_id: opts.vehicle },
    commonLabels: labels,
    commonAnnotations: { summary },
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status: 'firing',
        labels,
        annotations: { summary },
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: opts.fingerprint,
      },
    ],
  });
}

export function writePolicy(dir: string, yaml: string): string {
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** Peak resident set size of a process so far (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the ") " split; in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export async function redisPid(redis: Redis): Promise<number> {
  return Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
}

export interface RedisFootprint {
  usedMemory: number;
  keys: number;
}

/** Memory Redis uses for data (`used_memory`) and its key count; meant for a redis-server of our own. */
export async function redisFootprint(redis: Redis): Promise<RedisFootprint> {
  const info = await redis.info('memory');
  return {
    usedMemory: Number(/used_memory:(\d+)/.exec(info)?.[1]),
    keys: await redis.dbsize(),
  };
}

export interface RelayProcess {
  child: ChildProcess;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * `src/main.ts` in a child process (through tsx, as `npm start` runs it), ready once /healthz answers. Its
 * stderr goes to ours, so a refused configuration or a crash is visible.
 */
export async function startRelayProcess(port: number, env: Record<string, string>): Promise<RelayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`the relay exited with ${code} before it answered`))),
  );
  const deadline = Date.now() + 60_000;
  const ready = (async () => {
    for (;;) {
      const ok = await fetch(`${url}/healthz`).then(
        (res) => res.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error('the relay did not answer /healthz within 60 s');
      await sleep(100);
    }
  })();
  await Promise.race([ready, exited]);
  exited.catch(() => undefined);
  return {
    child,
    url,
    pid: child.pid as number,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Sum of a Prometheus counter's samples in a /metrics text, optionally only those whose labels contain `filter`. */
export function counterSum(metricsText: string, name: string, filter = ''): number {
  let sum = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (filter && !line.includes(filter)) continue;
    sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

/** Starts a server process; it is ready when it prints `listening N` or when `knownPort` answers. */
export async function startServer(
  command: string[],
  env: Record<string, string>,
  knownPort?: number,
  cwd?: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, command, {
    env: { ...process.env, ...env },
    ...(cwd ? { cwd } : {}),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /listening (\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening:\n${text}`)));
    if (knownPort) {
      const poll = setInterval(() => {
        fetch(`http://127.0.0.1:${knownPort}/healthz`).then(
          (res) => {
            if (res.ok) {
              clearInterval(poll);
              resolve(knownPort);
            }
          },
          () => undefined,
        );
      }, 100);
      child.once('exit', () => clearInterval(poll));
    }
  });
  child.stdout?.resume();
  return { child, port };
}
