/**
 * The policy's `escalate:` ladders and `ack_timeout` (issue 12, Bad input): refused with the key path and
 * exit code 2 by check-config, and printed by it when accepted.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parsePolicy } from '../../src/config/config.js';
import { describeLadders } from '../../src/domain/ladder.js';

const SCHEDULES = `schedules:
  primary:
    timezone: Europe/Amsterdam
    handoff: '09:00'
    rotation: daily
    members: [{ name: Maria Jansen, slack: U0123ABCD, email: maria@coldchain.example }]
`;

function policy(steps: unknown[], extra = ''): string {
  const route = { name: 'critical', slack: ['#alerts-critical'], repeat: '5m', escalate: steps };
  return `routes:\n  - ${JSON.stringify(route)}\nfallback_route: critical\n${extra}`;
}

function refusal(text: string): string {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the policy was accepted');
}

describe('escalate: and ack_timeout in the policy', () => {
  it('accepts a ladder with schedules, and ack_timeout in seconds (default never)', () => {
    const parsed = parsePolicy(
      policy(
        [
          { after: '15m', slack: ['#dispatch-duty'], mention: ['schedule:primary', 'U0456EFGH'] },
          { after: '30m', email: ['schedule:primary', 'duty@coldchain.example', 'oncall'] },
        ],
        `ack_timeout: 30m\n${SCHEDULES}`,
      ),
      'policy.yaml',
    );
    expect(parsed.ack_timeout).toBe(1800);
    expect(parsed.routes[0]!.escalate.map((s) => s.after)).toEqual([900, 1800]);
    expect(parsePolicy(policy([]), 'p').ack_timeout).toBe(0);
    expect(describeLadders(parsed.routes, parsed.ack_timeout)).toBe(
      [
        'escalation ladders (taken while unacknowledged; an acknowledgement lapses after 30m):',
        '  route critical:',
        '    1. after 15m → #dispatch-duty; mention schedule:primary, U0456EFGH',
        '    2. after 30m → schedule:primary, duty@coldchain.example, oncall',
      ].join('\n'),
    );
  });

  it('refuses an after that is not later than the previous one, at its key path', () => {
    expect(
      refusal(
        policy([
          { after: '15m', slack: ['#a'] },
          { after: '15m', slack: ['#b'] },
          { after: '10m', slack: ['#c'] },
        ]),
      ),
    ).toBe(
      [
        "policy.yaml: routes.0.escalate.1.after: must be later than the previous step's (15m)",
        "policy.yaml: routes.0.escalate.2.after: must be later than the previous step's (15m)",
      ].join('\n'),
    );
    expect(refusal(policy([{ after: 0, slack: ['#a'] }]))).toContain(
      'routes.0.escalate.0.after: must be a positive',
    );
  });

  it('refuses a schedule name no schedule has, naming the key path and the schedules there are', () => {
    expect(refusal(policy([{ after: '5m', mention: ['schedule:nightshift'] }], SCHEDULES))).toBe(
      'policy.yaml: routes.0.escalate.0.mention.0: no schedule is named "nightshift" (schedules: primary)',
    );
    expect(refusal(policy([{ after: '5m', email: ['schedule:primary', 'schedule:x'] }]))).toContain(
      'routes.0.escalate.0.email.1: no schedule is named "x" (schedules: none configured)',
    );
  });

  it('refuses a step with nowhere to go, a mention that is not a user id, unknown keys', () => {
    expect(refusal(policy([{ after: '5m' }]))).toContain(
      'routes.0.escalate.0: a step needs at least one of slack, email, mention',
    );
    expect(refusal(policy([{ after: '5m', mention: ['<!channel>'] }]))).toContain(
      'routes.0.escalate.0.mention.0',
    );
    expect(refusal(policy([{ after: '5m', slack: ['#a'], page: true }]))).toContain(
      'routes.0.escalate.0: Unrecognized key: "page"',
    );
    expect(refusal(`${policy([])}ack_timeout: soon\n`)).toContain(
      'policy.yaml: ack_timeout: "soon" is not a duration',
    );
  });

  it('check-config prints the ladder, and exits 2 with the key path on a bad one', () => {
    const file = join(tmpdir(), `relay-ladder-${process.pid}-${Date.now()}.yaml`);
    const run = (text: string) => {
      writeFileSync(file, text);
      return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/check-config.ts', file], {
        env: { ...process.env, RELAY_CONFIG: '' },
        encoding: 'utf8',
      });
    };
    const good = run(policy([{ after: '15m', slack: ['#dispatch-duty'] }], 'ack_timeout: 30m\n'));
    expect(good.stderr).toBe('');
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('    1. after 15m → #dispatch-duty');
    const bad = run(policy([{ after: '5m', mention: ['schedule:nightshift'] }]));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`${file}: routes.0.escalate.0.mention.0: no schedule is named "nightshift"`);
  }, 60_000);
});
