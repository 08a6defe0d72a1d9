/**
 * A redis-server of the fault suite's own, with AOF on, that can be killed with SIGKILL and restarted on the
 * same port from the same directory: what survives is what the append-only file held.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pollUntil } from '../../support/poll.js';
import { freePort } from '../../support/redis-server.js';
import { track } from './child-processes.js';

export type Fsync = 'everysec' | 'always';

export class AofRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'faults-redis-'));
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly fsync: Fsync,
  ) {}

  static async start(fsync: Fsync): Promise<AofRedis> {
    const redis = new AofRedis(await freePort(), fsync);
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port and directory; resolves once it answers PING after loading the AOF. */
  async restart(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null)
      throw new Error('redis-server is still running');
    this.child = track(
      spawn(
        'redis-server',
        [
          '--port',
          String(this.port),
          '--bind',
          '127.0.0.1',
          '--dir',
          this.dir,
          '--save',
          '',
          '--appendonly',
          'yes',
          '--appendfsync',
          this.fsync,
          '--maxmemory-policy',
          'noeviction',
        ],
        { stdio: 'ignore' },
      ),
    );
    await pollUntil(
      async () => {
        const probe = new Redis(this.url, {
          lazyConnect: true,
          retryStrategy: () => null,
          maxRetriesPerRequest: 0,
        });
        probe.on('error', () => {}); // refused (or LOADING) until the server is up; the poll retries
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } finally {
          probe.disconnect();
        }
      },
      20_000,
      () => `redis-server on ${this.port} did not start`,
      50,
    );
  }

  /** SIGKILL: no shutdown, no final fsync. */
  kill9(): Promise<void> {
    const child = this.child;
    return new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    await this.kill9();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
