/**
 * One error vocabulary for start-up (issue 11): every configuration problem, from `npm start` and from
 * `npm run check-config` alike, is exit code 2 with a `file: key.path: reason` line and no stack trace,
 * before any network I/O; `check-config --online` asks Slack and SMTP as the start does.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';

const example = readFileSync('examples/policy.yaml', 'utf8');

function policyFile(text: string): string {
  const file = join(tmpdir(), `relay-start-check-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Runs a script of ours with tsx; the environment names no reachable Redis, so reaching it would hang. */
function run(script: string, args: string[], env: Record<string, string>) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      env: { ...process.env, PORT: '0', REDIS_URL: 'redis://127.0.0.1:1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const missingCatalog = () =>
  policyFile(example.replace(/^ {2}catalog: .*$/m, '  catalog: /nonexistent/catalog.yaml'));
const badTemplates = () =>
  policyFile(example.replace(/^templates_dir: .*$/m, 'templates_dir: /nonexistent-templates'));
const missingFleet = () =>
  policyFile(example.replace(/^ {2}fleet: .*$/m, '  fleet: /nonexistent/fleet.yaml'));

describe('static checks: the same refusal from npm start and check-config', () => {
  for (const [what, file, expected] of [
    ['a missing context.catalog', missingCatalog, 'context.catalog: /nonexistent/catalog.yaml: ENOENT'],
    [
      'a bad templates_dir',
      badTemplates,
      'templates_dir: email template /nonexistent-templates/email.html.hbs',
    ],
    ['a missing context.fleet', missingFleet, 'context.fleet: /nonexistent/fleet.yaml: ENOENT'],
  ] as const) {
    it(`refuses ${what}: exit 2, the file, the key and the reason, no stack`, async () => {
      const policy = file();
      const [start, check] = await Promise.all([
        run('src/main.ts', [], { RELAY_CONFIG: policy }),
        run('src/cli/check-config.ts', [policy], {}),
      ]);
      for (const result of [start, check]) {
        expect(result.status, result.stderr).toBe(2);
        expect(result.stderr).toContain(`${policy}: ${expected}`);
        expect(result.stderr).not.toMatch(/^\s+at /m);
      }
      // Refused before Redis (which does not answer at REDIS_URL) was ever asked.
      expect(start.stderr).not.toContain('Redis');
    });
  }

  it('accepts the example policy and prints its routing table', async () => {
    const result = await run('src/cli/check-config.ts', ['examples/policy.yaml'], {});
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('examples/policy.yaml: OK');
  });

  it('checks the environment too', async () => {
    const result = await run('src/cli/check-config.ts', [], { HOST: '0.0.0.0' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('environment: RELAY_WEBHOOK_TOKEN: required');
  });
});

describe('check-config --online', () => {
  let fake: FakeSlack;
  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('refuses a Slack token that auth.test rejects, unless delivery.start_degraded is true', async () => {
    const env = { SLACK_BOT_TOKEN: 'xoxb-not-accepted', SLACK_API_URL: fake.url };
    const refused = await run('src/cli/check-config.ts', ['examples/policy.yaml', '--online'], env);
    expect(refused.status, refused.stdout).toBe(2);
    expect(refused.stderr).toMatch(/^environment: SLACK_BOT_TOKEN: Slack check failed: .*invalid_auth/m);
    expect(refused.stderr).not.toMatch(/^\s+at /m);

    const degraded = policyFile(example.replace(/^ {2}start_degraded: .*$/m, '  start_degraded: true'));
    const started = await run('src/cli/check-config.ts', [degraded, '--online'], env);
    expect(started.status, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/Slack check failed: .*invalid_auth.*starts degraded/);
  });

  it('passes with a token Slack accepts', async () => {
    const result = await run('src/cli/check-config.ts', ['examples/policy.yaml', '--online'], {
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: fake.url,
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Slack: /m);
  });
});
