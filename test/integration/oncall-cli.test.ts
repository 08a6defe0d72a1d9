/**
 * `npm run oncall -- [NAME] [--at ISO]` (issue 12), run as the operator runs it (`npx tsx src/cli/oncall.ts`)
 * against a temporary policy named by RELAY_CONFIG: who is on call in each schedule, in its zone and UTC,
 * since, until and the next person; exit 0 when every schedule names someone, 1 when one cannot, 2 (with a
 * precise message) for an unknown NAME, a bad --at or a refused policy.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'relay-oncall-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
copyFileSync(new URL('../fixtures/oncall/alternating-weeks.ics', import.meta.url), join(dir, 'weeks.ics'));
copyFileSync(new URL('../fixtures/oncall/zones.ics', import.meta.url), join(dir, 'zones.ics'));

const POLICY = `routes: [{name: critical, repeat: 5m}]
fallback_route: critical
schedules:
  primary:
    timezone: Europe/Amsterdam
    handoff: '09:00'
    rotation: daily
    start: '2026-03-01'
    members:
      - { name: Maria Jansen, slack: U0123ABCD, email: maria@coldchain.example, phone: '+31 6 5555 0101' }
      - { name: Tom de Vries, slack: U0456EFGH, email: tom@coldchain.example }
  secondary:
    ical: weeks.ics
    timezone: Europe/Amsterdam
    members:
      - { name: Anna Bakker, slack: U0789IJKL }
      - { name: Joost Visser, email: joost@coldchain.example }
`;
const policy = join(dir, 'policy.yaml');
writeFileSync(policy, POLICY);

function oncall(args: string[], relayConfig = policy) {
  return run('src/cli/oncall.ts', args, { RELAY_CONFIG: relayConfig });
}

/** A script of ours through npx tsx; REDIS_URL names nothing reachable, so a start that got that far would fail. */
function run(script: string, args: string[], env: Record<string, string>) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('npx', ['tsx', script, ...args], {
      env: { ...process.env, PORT: '0', REDIS_URL: 'redis://127.0.0.1:1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('npm run oncall', { timeout: 120_000 }, () => {
  it('prints every schedule at --at: who, contacts, since, until and the next person, local and UTC', async () => {
    const result = await oncall(['--at', '2026-03-29T06:59:00Z']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    // Before 09:00 CEST on 29 March the 28th's shift runs: day 27 from the start, 27 % 2 = 1 → Tom.
    expect(result.stdout).toBe(
      [
        'primary: daily rotation, handoff 09:00 Europe/Amsterdam, 2 members',
        '  at       2026-03-29 08:59 +02:00 Europe/Amsterdam (2026-03-29 06:59 UTC)',
        '  on call  Tom de Vries — Slack <@U0456EFGH>, email tom@coldchain.example',
        '  since    2026-03-28 09:00 +01:00 Europe/Amsterdam (2026-03-28 08:00 UTC)',
        '  until    2026-03-29 09:00 +02:00 Europe/Amsterdam (2026-03-29 07:00 UTC), the next handoff, to Maria Jansen',
        '',
        'secondary: iCal file weeks.ics, 2 members, times shown in Europe/Amsterdam',
        '  at       2026-03-29 08:59 +02:00 Europe/Amsterdam (2026-03-29 06:59 UTC)',
        '  on call  Joost Visser — email joost@coldchain.example',
        '  since    2026-03-23 09:00 +01:00 Europe/Amsterdam (2026-03-23 08:00 UTC)',
        '  until    2026-03-30 09:00 +02:00 Europe/Amsterdam (2026-03-30 07:00 UTC), the next handoff, after which on-call is unknown: nobody is on call in schedule secondary: no event at that time (the next starts 2026-04-06 12:00 +02:00)',
        '',
      ].join('\n'),
    );
  });

  it('prints one schedule by NAME (--at=ISO with an offset works too)', async () => {
    const result = await oncall(['primary', '--at=2026-10-25T10:00+01:00']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('primary: daily rotation');
    expect(result.stdout).not.toContain('secondary');
    expect(result.stdout).toContain(
      '  since    2026-10-25 09:00 +01:00 Europe/Amsterdam (2026-10-25 08:00 UTC)',
    );
  });

  it('refuses an unknown NAME, listing the names, and a bad --at: exit 2', async () => {
    const [unknown, badAt, twoNames] = await Promise.all([
      oncall(['tertiary']),
      oncall(['--at', '2026-03-29 09:00']),
      oncall(['primary', 'secondary']),
    ]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe(
      `${policy}: schedules: no schedule is named "tertiary" (schedules: primary, secondary)\n`,
    );
    expect(unknown.stdout).toBe('');
    expect(badAt.status).toBe(2);
    expect(badAt.stderr).toContain(
      '--at: "2026-03-29 09:00" is not an ISO 8601 instant with a time and an offset, such as 2026-03-29T07:00:00Z',
    );
    expect(twoNames.status).toBe(2);
    expect(twoNames.stderr).toContain('secondary: only one schedule NAME may be given (primary was)');
  });

  it('exits 1 when a schedule cannot name anyone, and 2 for a policy with an unreadable calendar', async () => {
    const stranger = join(dir, 'stranger.yaml');
    writeFileSync(
      stranger,
      POLICY.replace('ical: weeks.ics', 'ical: zones.ics').replace(
        '{ name: Anna Bakker, slack: U0789IJKL }',
        '{ name: Anna Bakker }',
      ),
    );
    const missing = join(dir, 'missing.yaml');
    writeFileSync(missing, POLICY.replace('ical: weeks.ics', 'ical: gone.ics'));
    const [unknownMember, unreadable] = await Promise.all([
      oncall(['secondary', '--at', '2026-08-01T12:00:00Z'], stranger),
      oncall([], missing),
    ]);
    expect(unknownMember.status).toBe(1);
    expect(unknownMember.stdout).toContain(
      '  on call  unknown: no member named "Pieter Smit" in schedule secondary',
    );
    expect(unreadable.status).toBe(2);
    expect(unreadable.stderr).toBe(
      `${missing}: schedules.secondary.ical: ${join(dir, 'gone.ics')}: cannot read the file: ENOENT\n`,
    );
  });
});

describe('check-config and npm start', { timeout: 120_000 }, () => {
  it('check-config resolves every schedule and prints who is on call now', async () => {
    const result = await run('src/cli/check-config.ts', [policy], {});
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      'schedules (on call now):\nprimary: daily rotation, handoff 09:00 Europe/Amsterdam',
    );
    expect(result.stdout).toMatch(/\n {2}on call {2}(Maria Jansen|Tom de Vries) — Slack <@U0/);
    expect(result.stdout).toMatch(/\n {2}until {4}\d{4}-\d\d-\d\d 09:00 \+0[12]:00 Europe\/Amsterdam/);
    expect(result.stdout).toContain('secondary: iCal file weeks.ics, 2 members');
  });

  it('both refuse an unreadable iCal file with the same message and exit 2', async () => {
    const missing = join(dir, 'missing-start.yaml');
    writeFileSync(missing, POLICY.replace('ical: weeks.ics', 'ical: gone.ics'));
    const [check, start] = await Promise.all([
      run('src/cli/check-config.ts', [missing], {}),
      run('src/main.ts', [], { RELAY_CONFIG: missing }),
    ]);
    for (const result of [check, start]) {
      expect(result.status, result.stderr).toBe(2);
      expect(result.stderr).toContain(
        `${missing}: schedules.secondary.ical: ${join(dir, 'gone.ics')}: cannot read the file: ENOENT`,
      );
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });
});
