/**
 * Two relays on one Redis with the same redis_prefix share queues and incidents. That is intended for the
 * api and worker replicas of one deployment (same policy) and a mistake between deployments (different
 * policies): a relay that starts and sees a live relay with its prefix and another policy warns about it.
 */
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { DEFAULT_POLICY_YAML } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { testConfig } from '../support/config.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';

const prefix = uniquePrefix('shared-prefix');
const relays: RunningRelay[] = [];

afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  await deletePrefix(prefix);
});

/** Starts a relay on the shared prefix and returns what it logged at start. */
async function start(policyYaml: string, role: 'all' | 'worker' = 'all'): Promise<string[]> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  relays.push(
    await startRelay(testConfig(prefix, { RELAY_ROLE: role }, policyYaml), {
      logger: createLogger('warn', sink),
    }),
  );
  return lines;
}

const WARNING = 'another relay uses this redis_prefix on this Redis with a different policy';

describe('relays sharing a redis_prefix', () => {
  it('warns only when a live relay on the prefix has a different policy', async () => {
    expect((await start(DEFAULT_POLICY_YAML)).join('\n')).not.toContain(WARNING);
    // A worker of the same deployment: same policy, no warning.
    expect((await start(DEFAULT_POLICY_YAML, 'worker')).join('\n')).not.toContain(WARNING);
    // Another deployment with the default prefix by mistake: another policy.
    const other = await start(DEFAULT_POLICY_YAML.replace('repeat: 5m', 'repeat: 10m'));
    const warning = other
      .map((l) => JSON.parse(l) as { msg: string; prefix: string })
      .find((l) => l.msg.includes(WARNING));
    expect(warning?.prefix).toBe(prefix);
  });
});
