/** Operations settings: the Redis/Sentinel variables, the shipped example policy, and the pure helpers of HA. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_POLICY_YAML, loadConfig, parsePolicy } from '../../src/config/config.js';
import { conflictingRelays } from '../../src/store/relay-heartbeat.js';
import { onlineReplicas } from '../../src/store/replicas.js';

const SENTINELS = {
  REDIS_SENTINELS: 'sentinel-0:26379, sentinel-1:26380,[::1]:26381',
  REDIS_SENTINEL_NAME: 'relay',
};

describe('Redis settings', () => {
  it('uses REDIS_URL, or the default address, which it marks as not set explicitly', () => {
    expect(loadConfig({}).redis).toEqual({ kind: 'url', url: 'redis://127.0.0.1:6379', explicit: false });
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redis).toEqual({
      kind: 'url',
      url: 'redis://127.0.0.1:6379',
      explicit: true,
    });
    expect(loadConfig({}).redisMinReplicas).toBe(0);
  });

  it('replaces REDIS_URL with the Sentinel setup and requires one replica by default', () => {
    const config = loadConfig({
      ...SENTINELS,
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_URL: 'redis://x:1',
    });
    expect(config.redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'sentinel-0', port: 26379 },
        { host: 'sentinel-1', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      name: 'relay',
      password: 'sentinel-secret',
    });
    expect(config.redisMinReplicas).toBe(1);
    expect(loadConfig({ ...SENTINELS, REDIS_MIN_REPLICAS: '0' }).redisMinReplicas).toBe(0);
    expect(loadConfig({ REDIS_MIN_REPLICAS: '2' }).redisMinReplicas).toBe(2);
    expect(loadConfig({ REDIS_SENTINELS: 'sentinel-0', REDIS_SENTINEL_NAME: 'relay' }).redis).toMatchObject({
      sentinels: [{ host: 'sentinel-0', port: 26379 }],
    });
  });

  it('refuses incomplete or malformed Sentinel settings with the variable and the reason', () => {
    expect(() => loadConfig({ REDIS_SENTINELS: 'sentinel-0:26379' })).toThrow(
      /environment: REDIS_SENTINEL_NAME: required when REDIS_SENTINELS is set/,
    );
    expect(() => loadConfig({ REDIS_SENTINEL_NAME: 'relay' })).toThrow(
      /environment: REDIS_SENTINEL_NAME: set without REDIS_SENTINELS/,
    );
    expect(() => loadConfig({ REDIS_SENTINEL_PASSWORD: 'x' })).toThrow(
      /environment: REDIS_SENTINEL_PASSWORD: set without REDIS_SENTINELS/,
    );
    expect(() => loadConfig({ ...SENTINELS, REDIS_SENTINELS: 'sentinel-0:26379,sentinel 1:99999' })).toThrow(
      /environment: REDIS_SENTINELS: "sentinel 1:99999" is not host:port/,
    );
    expect(() => loadConfig({ REDIS_MIN_REPLICAS: '-1' })).toThrow(/environment: REDIS_MIN_REPLICAS:/);
  });

  it('needs no webhook token for a worker, which serves no webhook, on a non-loopback HOST', () => {
    const env = { HOST: '0.0.0.0', RELAY_OUTBOX_DIR: '/var/outbox' };
    expect(() => loadConfig({ ...env, RELAY_ROLE: 'api' })).toThrow(/RELAY_WEBHOOK_TOKEN: required/);
    expect(loadConfig({ ...env, RELAY_ROLE: 'worker' }).role).toBe('worker');
  });
});

/** Every key path of a parsed policy (route keys under `routes[]`). */
function keyPaths(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return [...new Set(value.flatMap((item) => keyPaths(item, `${path}[]`)))];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const here = path ? `${path}.${key}` : key;
    return [here, ...keyPaths(child, here)];
  });
}

describe('examples/policy.yaml', () => {
  const text = readFileSync(new URL('../../examples/policy.yaml', import.meta.url), 'utf8');

  it('is the embedded default policy, spelled out', () => {
    const example = parsePolicy(text, 'examples/policy.yaml');
    const embedded = parsePolicy(DEFAULT_POLICY_YAML, 'embedded default');
    // The example names the default files the embedded policy leaves implicit.
    expect(example.templates_dir).toBe('./templates');
    expect(example.context.catalog).toBe('config/catalog.yaml');
    expect(example.context.fleet).toBe('config/fleet.yaml');
    const { templates_dir: _t, ...exampleRest } = example;
    expect({ ...exampleRest, context: { ...example.context, catalog: undefined, fleet: undefined } }).toEqual(
      {
        ...embedded,
        context: { ...embedded.context, catalog: undefined, fleet: undefined },
      },
    );
  });

  it('shows every key the policy has', () => {
    const written = new Set(keyPaths(parse(text)));
    const missing = keyPaths(parsePolicy(DEFAULT_POLICY_YAML, 'embedded default'))
      .filter((path) => !path.startsWith('routes[].matchers[]'))
      .filter((path) => !written.has(path));
    expect(missing).toEqual([]);
  });
});

describe('relay heartbeats', () => {
  const now = 1_000_000;
  const entry = (configHash: string, seenAt: number) =>
    JSON.stringify({ configHash, role: 'all', host: 'h', pid: 1, seenAt });

  it('reports live relays with another config hash, not itself, not the same policy, not stale ones', () => {
    const conflicts = conflictingRelays(
      {
        self: entry('aaa', now),
        twin: entry('aaa', now - 1000),
        other: entry('bbb', now - 5000),
        gone: entry('ccc', now - 10 * 60_000),
        garbage: 'not json',
      },
      { id: 'self', configHash: 'aaa' },
      now,
    );
    expect(conflicts.map((c) => c.id)).toEqual(['other']);
  });
});

describe('onlineReplicas', () => {
  it('counts replicas that are online, from INFO replication', () => {
    const info = [
      '# Replication',
      'role:master',
      'connected_slaves:2',
      'slave0:ip=10.0.0.2,port=6379,state=online,offset=100,lag=0',
      'slave1:ip=10.0.0.3,port=6379,state=wait_bgsave,offset=0,lag=0',
      'master_repl_offset:100',
    ].join('\r\n');
    expect(onlineReplicas(info)).toEqual({ role: 'master', online: 1 });
    expect(onlineReplicas('role:slave\r\nmaster_host:10.0.0.1')).toEqual({ role: 'slave', online: 0 });
  });
});

describe('documentation links', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const files = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];

  it.each(files)('%s links only to files inside the repository that exist', (file) => {
    const text = readFileSync(join(root, file), 'utf8');
    const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((m) => m[1]!)
      .filter((t) => !/^(https?:|mailto:|#)/.test(t));
    for (const target of targets) {
      const path = resolve(dirname(join(root, file)), target.split('#')[0]!);
      expect(relative(root, path).startsWith('..'), `${file} links outside the repository: ${target}`).toBe(
        false,
      );
      expect(existsSync(path), `${file} links to a missing file: ${target}`).toBe(true);
    }
  });
});
