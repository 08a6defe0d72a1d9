/** Builds a Config the way the process does (loadConfig), with test-friendly overrides. */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, DEFAULT_POLICY_YAML, loadConfig } from '../../src/config/config.js';
import { REDIS_URL } from './redis.js';

export function testConfig(
  prefix: string,
  env: Record<string, string> = {},
  policyYaml = DEFAULT_POLICY_YAML,
): Config {
  const file = join(tmpdir(), `${prefix}-policy.yaml`);
  writeFileSync(file, `${policyYaml}\nredis_prefix: ${prefix}\n`);
  return loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RELAY_CONFIG: file,
    ...env,
  });
}
