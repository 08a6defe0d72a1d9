import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

function policyFile(text: string): string {
  const file = join(tmpdir(), `relay-config-test-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

describe('loadConfig', () => {
  it('runs on the embedded default with no file and no variables', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8081);
    expect(config.host).toBe('127.0.0.1');
    expect(config.policySource).toBe('embedded default');
    expect(config.policy.routes.map((r) => r.name)).toEqual(['critical', 'warning', 'info']);
  });

  it('names the file, the path of the bad key and the reason', () => {
    const file = policyFile(
      `routes:\n  - name: critical\n    matchers: ['severity=="x"']\n    repeat: 5 minutes\n    colour: red\n`,
    );
    let message = '';
    try {
      loadConfig({ RELAY_CONFIG: file });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toContain(`${file}: routes.0.repeat: "5 minutes" is not a duration`);
    expect(message).toContain(`${file}: routes.0.matchers.0: bad matcher`);
    expect(message).toContain(`${file}: routes.0: Unrecognized key: "colour"`);
  });

  it('refuses bad variables with their names', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/environment: PORT:/);
    expect(() => loadConfig({ RELAY_ROLE: 'both' })).toThrow(/environment: RELAY_ROLE:/);
    expect(() => loadConfig({ ALERTMANAGER_URL: 'http://am-a:9093, not a url' })).toThrow(/ALERTMANAGER_URL/);
  });

  it('refuses SMTP without an on-call address, and no token on a non-loopback HOST', () => {
    expect(() => loadConfig({ SMTP_URL: 'smtp://mail:25' })).toThrow(
      /RELAY_ONCALL_EMAIL: required when SMTP_URL/,
    );
    expect(() => loadConfig({ HOST: '0.0.0.0', RELAY_OUTBOX_DIR: '/tmp/o' })).toThrow(
      /RELAY_WEBHOOK_TOKEN: required/,
    );
  });

  it('refuses preview mode on a non-loopback HOST unless RELAY_OUTBOX_DIR is set explicitly', () => {
    const env = { HOST: '0.0.0.0', RELAY_WEBHOOK_TOKEN: 'a-long-enough-token-1234' };
    expect(() => loadConfig(env)).toThrow(/RELAY_OUTBOX_DIR: SLACK_BOT_TOKEN is not set/);
    expect(loadConfig({ ...env, RELAY_OUTBOX_DIR: '/var/outbox' }).outboxDir).toBe('/var/outbox');
  });

  it('splits a comma-separated ALERTMANAGER_URL', () => {
    expect(loadConfig({ ALERTMANAGER_URL: 'http://am-a:9093, http://am-b:9093' }).alertmanagerUrls).toEqual([
      'http://am-a:9093',
      'http://am-b:9093',
    ]);
  });

  it('exits with code 2 and the reason when the process is started with a bad file', async () => {
    const { spawnSync } = await import('node:child_process');
    const file = policyFile('routes: []\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, RELAY_CONFIG: file, PORT: '0' },
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${file}: routes: Too small`);
  });
});
