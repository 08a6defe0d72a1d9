/**
 * The quick start's Redis: when REDIS_URL is unset and nothing answers on the default address, `npm start`
 * runs a redis-server child of its own (from PATH) instead of failing. It is set up as production Redis
 * should be for the relay: AOF on (accepted webhooks survive a restart), `maxmemory-policy noeviction`
 * (queued alerts are never evicted), loopback only, data under ./data/redis. The relay stops it on exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCAL_REDIS_DIR = './data/redis';
export const INSTALL_HINT =
  'install redis-server (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) or set REDIS_URL';

/** The child's address and pid, so a relay killed without cleanup does not leave a second server on one AOF. */
const STATE_FILE = 'local-redis.json';

export interface LocalRedis {
  url: string;
  port: number;
  pid: number;
  /** true when an earlier relay's child was still running and is used again. */
  adopted: boolean;
  stop(): Promise<void>;
}

/** Whether something accepts TCP connections on host:port (a Redis, or anything else that would then fail loudly). */
export function answers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePromise(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function stopPid(pid: number): Promise<void> {
  return (async () => {
    try {
      process.kill(pid, 'SIGTERM'); // redis-server flushes the AOF and exits
    } catch {
      return;
    }
    for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(50);
  })();
}

/** An earlier relay's child that still runs (that relay was killed): use it rather than start a second one. */
async function adoptRunning(dir: string): Promise<LocalRedis | undefined> {
  let state: { pid: number; port: number };
  try {
    state = JSON.parse(readFileSync(resolve(dir, STATE_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (!isAlive(state.pid) || !(await answers('127.0.0.1', state.port))) return undefined;
  return {
    url: `redis://127.0.0.1:${state.port}`,
    port: state.port,
    pid: state.pid,
    adopted: true,
    stop: async () => {
      await stopPid(state.pid);
      rmSync(resolve(dir, STATE_FILE), { force: true });
    },
  };
}

export async function startLocalRedis(options: { dir?: string; binary?: string } = {}): Promise<LocalRedis> {
  const dir = resolve(options.dir ?? LOCAL_REDIS_DIR);
  mkdirSync(dir, { recursive: true });
  const adopted = await adoptRunning(dir);
  if (adopted) return adopted;

  const port = await freeLoopbackPort();
  // Settings go on the command line: no file to keep in sync, and `ps` shows how it runs.
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--protected-mode',
    'yes',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
  ];
  const child: ChildProcess = spawn(options.binary ?? 'redis-server', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C in the terminal must not stop Redis while the relay is still
    // finishing its in-flight deliveries; the relay stops it last.
    detached: true,
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<NodeJS.ErrnoException | number | null>((resolvePromise) => {
    child.once('error', (error) => resolvePromise(error));
    child.once('exit', (code) => resolvePromise(code));
  });

  const deadline = Date.now() + 10_000;
  for (;;) {
    const early = await Promise.race([exited, sleep(100).then(() => 'running' as const)]);
    if (early !== 'running') {
      if (typeof early === 'object' && early?.code === 'ENOENT') {
        throw new Error(
          `redis-server is not installed and nothing answers on 127.0.0.1:6379: ${INSTALL_HINT}`,
        );
      }
      const reason = typeof early === 'object' && early ? early.message : `exit code ${early}`;
      throw new Error(`local redis-server failed to start (${reason}): ${output.trim().slice(-1000)}`);
    }
    if (await answers('127.0.0.1', port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`local redis-server did not answer on 127.0.0.1:${port} within 10 s: ${output.trim()}`);
    }
  }
  // Its log lines are not the relay's: drop them from here on (the start-up failure above shows them).
  child.stdout?.off('data', keep).resume();
  child.stderr?.off('data', keep).resume();
  const pid = child.pid ?? 0;
  writeFileSync(resolve(dir, STATE_FILE), JSON.stringify({ pid, port }));
  // A relay that crashes still takes its Redis down (SIGKILL cannot be caught; adoptRunning covers that).
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    adopted: false,
    async stop() {
      process.off('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(resolve(dir, STATE_FILE), { force: true });
    },
  };
}
