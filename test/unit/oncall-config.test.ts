/**
 * The `schedules:` policy key (issue 12): the issue's example parses as written, and each bad schedule is
 * refused with a ConfigError naming the file and the key path: an empty rotation, a bad timezone, a bad
 * handoff time, an override naming no member, an unreadable or invalid iCal file (read relative to the
 * policy file's directory), a weekly rotation without its weekday, plain http to a remote calendar.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadPolicyFile, parsePolicy } from '../../src/config/config.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/oncall/', import.meta.url));
const ROUTES = 'routes: [{name: critical, repeat: 5m}]\nfallback_route: critical\n';

const ISSUE_EXAMPLE = `${ROUTES}schedules:
  primary:
    timezone: Europe/Amsterdam
    handoff: '09:00'                # daily; or weekly with a weekday
    rotation: daily
    members:
      - { name: Maria Jansen, slack: U0123ABCD, email: maria@coldchain.example, phone: '+31 6 5555 0101' }
      - { name: Tom de Vries, slack: U0456EFGH, email: tom@coldchain.example }
  secondary:
    ical: config/secondary-oncall.ics   # or an https URL; each event's SUMMARY is a member's name
    members:
      - { name: Anna Bakker, slack: U0789IJKL, email: anna@coldchain.example }
`;

const dir = mkdtempSync(join(tmpdir(), 'relay-oncall-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writePolicy(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function refusal(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

const schedule = (fields: Record<string, unknown>) =>
  `${ROUTES}schedules:\n  primary: ${JSON.stringify(fields)}\n`;
const ROTATION = {
  timezone: 'Europe/Amsterdam',
  handoff: '09:00',
  rotation: 'daily',
  members: [{ name: 'Maria Jansen' }, { name: 'Tom de Vries' }],
};

describe('schedules: what is accepted', () => {
  it("parses the issue's example as written, and reads its calendar relative to the policy file", () => {
    const policy = parsePolicy(ISSUE_EXAMPLE, 'issue.yaml');
    expect(policy.schedules.primary).toMatchObject({
      kind: 'rotation',
      timezone: 'Europe/Amsterdam',
      handoff: '09:00',
      rotation: 'daily',
      handoff_always: false,
      members: [
        {
          name: 'Maria Jansen',
          slack: 'U0123ABCD',
          email: 'maria@coldchain.example',
          phone: '+31 6 5555 0101',
        },
        { name: 'Tom de Vries', slack: 'U0456EFGH', email: 'tom@coldchain.example' },
      ],
    });
    expect(policy.schedules.secondary).toMatchObject({
      kind: 'ical',
      ical: 'config/secondary-oncall.ics',
      timezone: 'UTC',
      refresh: 300,
    });
    // Beside a policy in the repository's root, the path names the repository's example calendar.
    const root = mkdtempSync(join(dir, 'root-'));
    mkdirSync(join(root, 'config'));
    copyFileSync('config/secondary-oncall.ics', join(root, 'config', 'secondary-oncall.ics'));
    // Elsewhere it is not found, even though the working directory has one: paths follow the policy file.
    const elsewhere = writePolicy('elsewhere.yaml', ISSUE_EXAMPLE);
    expect(refusal(() => loadPolicyFile(elsewhere))).toBe(
      `${elsewhere}: schedules.secondary.ical: ${join(dir, 'config', 'secondary-oncall.ics')}: cannot read the file: ENOENT`,
    );
    writeFileSync(join(root, 'policy.yaml'), ISSUE_EXAMPLE);
    expect(loadPolicyFile(join(root, 'policy.yaml')).policy.schedules.secondary?.kind).toBe('ical');
  });

  it('loads a policy whose iCal path is relative to its own directory, and parses the digest keys', () => {
    copyFileSync(join(FIXTURES, 'zones.ics'), join(dir, 'zones.ics'));
    const path = writePolicy(
      'relative.yaml',
      `${ROUTES}schedules:\n  secondary: {ical: zones.ics, handoff_slack: '#oncall', handoff_always: true, members: [{name: Anna Bakker}]}\n`,
    );
    expect(loadPolicyFile(path).policy.schedules.secondary).toMatchObject({
      kind: 'ical',
      ical: 'zones.ics',
      handoff_slack: '#oncall',
      handoff_always: true,
    });
  });

  it('a policy without schedules has none', () => {
    expect(parsePolicy(ROUTES, 'x.yaml').schedules).toEqual({});
  });
});

describe('schedules: refusals name the key path', () => {
  const cases: [string, string, string][] = [
    [
      'an empty rotation',
      schedule({ ...ROTATION, members: [] }),
      'schedules.primary.members: empty rotation',
    ],
    [
      'a timezone Intl does not know',
      schedule({ ...ROTATION, timezone: 'Europe/Amsterdm' }),
      'schedules.primary.timezone: "Europe/Amsterdm" is not an IANA time zone',
    ],
    [
      'a handoff that is not HH:MM',
      schedule({ ...ROTATION, handoff: '9am' }),
      `schedules.primary.handoff: "9am" is not a time 'HH:MM'`,
    ],
    ['a handoff at 24:00', schedule({ ...ROTATION, handoff: '24:00' }), 'schedules.primary.handoff: "24:00"'],
    [
      'an override naming no member',
      schedule({ ...ROTATION, overrides: [{ date: '2026-12-24', member: 'Pieter Smit' }] }),
      'schedules.primary.overrides.0.member: no member named "Pieter Smit"',
    ],
    [
      'an override that ends before it begins',
      schedule({
        ...ROTATION,
        overrides: [{ from: '2026-12-24', to: '2026-12-23', member: 'Tom de Vries' }],
      }),
      'schedules.primary.overrides.0.to: must be after from',
    ],
    [
      'an override date that is no date',
      schedule({ ...ROTATION, overrides: [{ date: '2026-02-30', member: 'Tom de Vries' }] }),
      'schedules.primary.overrides.0.date: "2026-02-30" is not a date',
    ],
    [
      'a weekly rotation without its weekday',
      schedule({ ...ROTATION, rotation: 'weekly' }),
      'schedules.primary.handoff_day: required for a weekly rotation',
    ],
    [
      'a weekly start that is not on the handoff day',
      schedule({ ...ROTATION, rotation: 'weekly', handoff_day: 'monday', start: '2026-03-18' }),
      'schedules.primary.start: 2026-03-18 is a wednesday, not the handoff_day (monday)',
    ],
    [
      'a member listed twice',
      schedule({ ...ROTATION, members: [{ name: 'Tom de Vries' }, { name: 'tom de vries' }] }),
      'schedules.primary.members.1.name: "tom de vries" is listed twice',
    ],
    [
      'a Slack mention that is not a user id',
      schedule({ ...ROTATION, members: [{ name: 'Tom', slack: '<!channel>' }] }),
      'schedules.primary.members.0.slack: a Slack user id',
    ],
    [
      'a rotation key on a calendar',
      schedule({ ical: 'x.ics', handoff: '09:00', members: [{ name: 'Tom' }] }),
      'schedules.primary.handoff: only for a rotation',
    ],
    [
      'a calendar over plain http to a remote host (its URL carries a secret)',
      schedule({ ical: 'http://calendar.example/private-abc.ics', members: [{ name: 'Tom' }] }),
      'schedules.primary.ical: an iCal URL must be https://',
    ],
    [
      'a rotation missing its handoff',
      schedule({ ...ROTATION, handoff: undefined }),
      'schedules.primary.handoff: required',
    ],
  ];
  for (const [what, yaml, expected] of cases) {
    it(`refuses ${what}`, () => {
      expect(refusal(() => parsePolicy(yaml, 'policy.yaml'))).toContain(`policy.yaml: ${expected}`);
    });
  }

  it('refuses an iCal file that cannot be read, naming the policy file, the key and the path', () => {
    const path = writePolicy('missing.yaml', schedule({ ical: 'nowhere.ics', members: [{ name: 'Tom' }] }));
    expect(refusal(() => loadPolicyFile(path))).toBe(
      `${path}: schedules.primary.ical: ${join(dir, 'nowhere.ics')}: cannot read the file: ENOENT`,
    );
  });

  it('refuses a file that is not an iCalendar, and a TZID nobody defines', () => {
    const garbage = writePolicy(
      'garbage.yaml',
      schedule({ ical: join(FIXTURES, 'not-a-calendar.ics'), members: [{ name: 'Tom' }] }),
    );
    expect(refusal(() => loadPolicyFile(garbage))).toMatch(
      /garbage\.yaml: schedules\.primary\.ical: .*not-a-calendar\.ics: not an iCalendar file/,
    );
    const mars = writePolicy(
      'mars.yaml',
      schedule({ ical: join(FIXTURES, 'unknown-tzid.ics'), members: [{ name: 'Tom' }] }),
    );
    expect(refusal(() => loadPolicyFile(mars))).toContain(
      'schedules.primary.ical: ' +
        `${join(FIXTURES, 'unknown-tzid.ics')}: TZID "Mars Standard Time" is neither an IANA time zone nor defined by a VTIMEZONE in the file`,
    );
  });
});
