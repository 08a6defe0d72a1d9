/**
 * `npm start` without a Redis (issue: the quick start): with REDIS_URL unset and nothing on 127.0.0.1:6379 the
 * relay runs a redis-server child of its own (AOF on, noeviction, loopback, data under ./data/redis) and stops
 * it on exit; a missing redis-server says how to install it; an explicit REDIS_URL never gets a child.
 *
 * The process-level cases need "nothing answers on 127.0.0.1:6379", which the shared test Redis makes false:
 * they run the relay in a network namespace of its own (`unshare -n`, root only) and are skipped, saying so,
 * where that is not allowed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { answers, startLocalRedis } from '../../src/store/local-redis.js';
import { pollUntil } from '../support/poll.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = join(ROOT, 'node_modules/tsx/dist/loader.mjs');
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'relay-local-redis-'));
  dirs.push(dir);
  return dir;
}

const children: ChildProcess[] = [];

afterAll(() => {
  // A test that failed half-way must not leave a relay (and its redis-server) behind: SIGTERM stops both.
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function configOf(port: number, name: string): Promise<string> {
  const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  try {
    const reply = (await redis.config('GET', name)) as unknown;
    return Array.isArray(reply) ? String(reply[1]) : String((reply as Record<string, string>)[name]);
  } finally {
    redis.disconnect();
  }
}

describe('startLocalRedis', () => {
  it('runs redis-server on a free loopback port with AOF, noeviction and the data directory, and stops it', async () => {
    const dir = tempDir();
    const local = await startLocalRedis({ dir });
    try {
      expect(local.port).not.toBe(6379);
      expect(local.adopted).toBe(false);
      expect(await configOf(local.port, 'appendonly')).toBe('yes');
      expect(await configOf(local.port, 'maxmemory-policy')).toBe('noeviction');
      expect(await configOf(local.port, 'bind')).toBe('127.0.0.1');
      expect(await configOf(local.port, 'dir')).toBe(dir);
      expect(readdirSync(dir)).toContain('appendonlydir');
    } finally {
      await local.stop();
    }
    expect(await answers('127.0.0.1', local.port)).toBe(false);
    expect(existsSync(join(dir, 'local-redis.json'))).toBe(false);
  });

  it('uses the child an earlier relay left running on the same data rather than start a second one', async () => {
    const dir = tempDir();
    const first = await startLocalRedis({ dir });
    const second = await startLocalRedis({ dir });
    try {
      expect(second).toMatchObject({ adopted: true, port: first.port, pid: first.pid });
    } finally {
      await second.stop();
      await first.stop();
    }
    expect(await answers('127.0.0.1', first.port)).toBe(false);
  });

  it('says how to install redis-server when it is missing', async () => {
    await expect(
      startLocalRedis({ dir: tempDir(), binary: 'redis-server-that-is-not-installed' }),
    ).rejects.toThrow(
      /redis-server is not installed and nothing answers on 127.0.0.1:6379: install redis-server \(Debian\/Ubuntu: `apt-get install redis-server`/,
    );
  });
});

/** Whether this machine lets us give a process its own network namespace (root, and the capability). */
const isolated =
  spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' }).status === 0;
if (!isolated) {
  process.stderr.write(
    'test/ha/local-redis.test.ts: `unshare -n` is not allowed here (needs root); skipping the npm start cases\n',
  );
}

/** The relay (`src/main.ts`) alone in a network namespace where nothing answers on 127.0.0.1:6379. */
function startIsolatedRelay(
  cwd: string,
  env: Record<string, string>,
): { child: ChildProcess; log: () => string } {
  const child = spawn(
    'unshare',
    [
      '-n',
      'sh',
      '-c',
      `ip link set lo up && exec "${process.execPath}" --import "${TSX}" "${join(ROOT, 'src/main.ts')}"`,
    ],
    {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        PORT: '0',
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let log = '';
  child.stdout?.on('data', (c: Buffer) => {
    log += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    log += c.toString();
  });
  return { child, log: () => log };
}

describe.skipIf(!isolated)('npm start with nothing on 127.0.0.1:6379', () => {
  it('starts a local redis-server under ./data/redis, says so, and stops it on exit', async () => {
    const cwd = tempDir();
    const relay = startIsolatedRelay(cwd, {});
    const exited = new Promise<number | null>((resolve) => relay.child.once('exit', (code) => resolve(code)));
    await pollUntil(
      () => relay.log().includes('relay listening'),
      60_000,
      () => `relay did not start:\n${relay.log()}`,
    );
    expect(relay.log()).toContain('started a local redis-server (AOF on, noeviction, loopback)');
    const state = join(cwd, 'data/redis/local-redis.json');
    expect(existsSync(state)).toBe(true);
    expect(readdirSync(join(cwd, 'data/redis'))).toContain('appendonlydir');
    const { pid } = JSON.parse(readFileSync(state, 'utf8')) as { pid: number };

    relay.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(state)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow(); // the child is gone
  }, 90_000);

  it('keeps an explicit REDIS_URL that does not answer an error: no child is started', async () => {
    const cwd = tempDir();
    const relay = startIsolatedRelay(cwd, { REDIS_URL: 'redis://127.0.0.1:6379' });
    const exited = new Promise<number | null>((resolve) => relay.child.once('exit', (code) => resolve(code)));
    // The relay waits 30 s for the Redis it was told to use, then exits 1 naming REDIS_URL.
    expect(await exited).toBe(1);
    expect(relay.log()).toMatch(/Redis did not answer within 30000 ms \(REDIS_URL\); is Redis running\?/);
    expect(relay.log()).not.toContain('local redis-server');
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  }, 90_000);
});
