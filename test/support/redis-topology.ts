/**
 * Replicated Redis for the high-availability tests: redis-server processes (AOF on, noeviction) and Sentinel
 * processes (`redis-server FILE --sentinel`), each from a config file of its own, all on loopback on free
 * ports. A node can be SIGKILLed and started again on the same port, data directory and config file, as a
 * supervisor would restart a crashed server; Sentinel rewrites those files as it reconfigures the nodes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pollUntil } from './poll.js';
import { freePort } from './redis-server.js';

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  readonly running: boolean;
  /** Starts the process again (same port, config file and data) and waits until it answers PING. */
  start(): Promise<void>;
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** A short-lived connection for one question; the caller disconnects it. */
  client(): Redis;
  /** The process's last output lines, for failure messages. */
  output(): string;
}

function redisProcess(port: number, args: string[]): RedisProcess {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const url = `redis://127.0.0.1:${port}`;
  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const self: RedisProcess = {
    port,
    url,
    get running() {
      return isRunning();
    },
    async start() {
      if (isRunning()) throw new Error(`redis on ${port} is already running`);
      try {
        child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (error) {
        throw new Error(
          `cannot start redis-server (apt-get install redis-server): ${(error as Error).message}`,
        );
      }
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-20_000);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      const current = child;
      exited = new Promise<void>((resolve) => {
        current.once('exit', () => resolve());
        current.once('error', (error) => {
          output += `\nspawn error: ${error.message} (apt-get install redis-server)`;
          resolve();
        });
      });
      await pollUntil(
        async () => {
          if (!isRunning()) throw new Error('exited');
          const probe = self.client();
          try {
            return (await probe.ping()) === 'PONG';
          } finally {
            probe.disconnect();
          }
        },
        15_000,
        () => `redis-server ${args.join(' ')} did not answer on ${port}:\n${output.slice(-2000)}`,
        50,
      );
    },
    async kill(signal = 'SIGKILL') {
      if (!isRunning()) return;
      child?.kill(signal);
      await exited;
    },
    client() {
      const redis = new Redis(port, '127.0.0.1', {
        lazyConnect: false,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      redis.on('error', () => {}); // a refused probe is an answer too; callers see the rejected command
      return redis;
    },
    output: () => output,
  };
  return self;
}

/** A data node: a master, or a replica of `replicaOf`. AOF on, as the relay requires in production. */
export async function startRedisNode(
  dir: string,
  replicaOf?: Pick<RedisProcess, 'port'>,
): Promise<RedisProcess> {
  const port = await freePort();
  const file = join(dir, `redis-${port}.conf`);
  writeFileSync(
    file,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `appenddirname aof-${port}`,
      `dbfilename dump-${port}.rdb`,
      'appendonly yes',
      'appendfsync everysec',
      'save ""',
      'maxmemory-policy noeviction',
      'repl-diskless-sync yes',
      'repl-diskless-sync-delay 0',
      ...(replicaOf ? [`replicaof 127.0.0.1 ${replicaOf.port}`] : []),
      '',
    ].join('\n'),
  );
  const node = redisProcess(port, [file]);
  await node.start();
  return node;
}

export interface SentinelOptions {
  masterName: string;
  master: RedisProcess;
  quorum: number;
  /** How long a master must be unreachable before a sentinel calls it down. */
  downAfterMs: number;
  failoverTimeoutMs: number;
}

export async function startSentinel(dir: string, o: SentinelOptions): Promise<RedisProcess> {
  const port = await freePort();
  const file = join(dir, `sentinel-${port}.conf`);
  writeFileSync(
    file,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${o.masterName} 127.0.0.1 ${o.master.port} ${o.quorum}`,
      `sentinel down-after-milliseconds ${o.masterName} ${o.downAfterMs}`,
      `sentinel failover-timeout ${o.masterName} ${o.failoverTimeoutMs}`,
      `sentinel parallel-syncs ${o.masterName} 1`,
      '',
    ].join('\n'),
  );
  const sentinel = redisProcess(port, [file, '--sentinel']);
  await sentinel.start();
  return sentinel;
}

/** `INFO replication` of a node as a map. */
export async function replicationInfo(node: RedisProcess): Promise<Record<string, string>> {
  const redis = node.client();
  try {
    const text = await redis.info('replication');
    return Object.fromEntries(
      text
        .split(/\r?\n/)
        .filter((line) => line.includes(':'))
        .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
    );
  } finally {
    redis.disconnect();
  }
}

/** The master's port as one sentinel sees it now. */
export async function masterPortSeenBy(sentinel: RedisProcess, masterName: string): Promise<number> {
  const redis = sentinel.client();
  try {
    const reply = (await redis.call('SENTINEL', 'get-master-addr-by-name', masterName)) as string[] | null;
    if (!reply) throw new Error(`sentinel ${sentinel.port} does not know ${masterName}`);
    return Number(reply[1]);
  } finally {
    redis.disconnect();
  }
}

/** SENTINEL MASTER's fields (num-other-sentinels, num-slaves, flags, …). */
export async function sentinelMasterState(
  sentinel: RedisProcess,
  masterName: string,
): Promise<Record<string, string>> {
  const redis = sentinel.client();
  try {
    const reply = (await redis.call('SENTINEL', 'master', masterName)) as string[] | Record<string, string>;
    if (!Array.isArray(reply)) return reply;
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) fields[reply[i]!] = reply[i + 1]!;
    return fields;
  } finally {
    redis.disconnect();
  }
}

/**
 * A TCP relay between a replica and its master that can hold back the replication stream: while held, what the
 * master sends stays with the proxy (the replica neither gets nor acknowledges it), which is how a lagging
 * replica looks to the master. `cut()` drops the held bytes and every connection, as a crash of the master's
 * host would. Point the replica's `replicaof` at the proxy's port.
 */
export interface ReplicationProxy {
  readonly port: number;
  /** Holds back the master's stream from now until cut(): those bytes are never delivered. */
  hold(): void;
  cut(): void;
  close(): Promise<void>;
}

export async function startReplicationProxy(master: Pick<RedisProcess, 'port'>): Promise<ReplicationProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let held = false;
  const server = createServer((downstream) => {
    const upstream = createConnection({ host: '127.0.0.1', port: master.port });
    const pair: [Socket, Socket] = [downstream, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    for (const socket of pair) {
      socket.on('error', drop);
      socket.on('close', drop);
    }
    // The replica's commands and acknowledgements always reach the master; the master's stream only when not held.
    downstream.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (!held) downstream.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const cutAll = () => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    hold() {
      held = true;
    },
    cut() {
      cutAll();
      held = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        cutAll();
        server.close(() => resolve());
      }),
  };
}
