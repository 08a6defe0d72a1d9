/**
 * Times as messages show them (display_timezone), the demo's move of captured payloads to now, and the
 * small pure helpers behind links (runbook source, tel: links) and the peak reading.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OutboxSlackSender } from '../../src/channels/slack/sender.js';
import { rebasePayload, rebaseShifts } from '../../src/cli/demo-rebase.js';
import { ConfigError, parsePolicy } from '../../src/config/config.js';
import { peakReading } from '../../src/context/derived-facts.js';
import { pickRunbook, telUrl } from '../../src/context/links.js';
import { createDisplayClock } from '../../src/domain/display-time.js';
import { fixture } from '../support/fixtures.js';

const NOW = Date.parse('2026-11-26T14:30:00Z');

describe('display times', () => {
  it('shows the zone, and the date only when the time is not today there', () => {
    const utc = createDisplayClock(undefined, NOW);
    expect(utc.format(Date.parse('2026-11-26T14:20:00Z'))).toBe('14:20 UTC');
    expect(utc.format(Date.parse('2026-11-25T23:50:00Z'))).toBe('25 Nov 23:50 UTC');
    const amsterdam = createDisplayClock('Europe/Amsterdam', NOW);
    // 23:50 UTC on the 25th is 00:50 on the 26th in Amsterdam: today there.
    expect(amsterdam.format(Date.parse('2026-11-25T23:50:00Z'))).toBe('00:50 CET');
    expect(createDisplayClock('America/New_York', NOW).format(Date.parse('2026-11-26T03:00:00Z'))).toBe(
      '25 Nov 22:00 GMT-5',
    );
  });

  it('flags a time already past with how long ago, and leaves a future one alone', () => {
    const clock = createDisplayClock('UTC', NOW);
    expect(clock.formatDue(Date.parse('2026-11-26T12:20:00Z'))).toBe('12:20 UTC, 2h 10m ago');
    expect(clock.formatDue(Date.parse('2026-11-26T16:30:00Z'))).toBe('16:30 UTC');
    expect(clock.format(Number.NaN)).toBe('an unknown time');
  });

  it('display_timezone defaults to UTC and a mistyped zone is refused, naming the key', () => {
    const base = 'routes: [{name: warning, repeat: 1h}]\n';
    expect(parsePolicy(base, 'p.yaml').display_timezone).toBe('UTC');
    expect(parsePolicy(`${base}display_timezone: Europe/Amsterdam\n`, 'p.yaml').display_timezone).toBe(
      'Europe/Amsterdam',
    );
    expect(() => parsePolicy(`${base}display_timezone: Europe/Amsterdan\n`, 'p.yaml')).toThrow(ConfigError);
    expect(() => parsePolicy(`${base}display_timezone: Europe/Amsterdan\n`, 'p.yaml')).toThrow(
      /^p\.yaml: display_timezone: an IANA time zone/,
    );
  });
});

describe('the demo moves captured payloads to now', () => {
  const steps = ['firing-postgresql-down', 'firing-high-cpu', 'resolved-postgresql-down'] as const;
  const payloads = steps.map((name) => fixture(name));
  const start = Date.parse('2026-11-27T21:00:00Z');
  const shifts = rebaseShifts(payloads.map((payload, i) => ({ payload, postAt: start + i * 2000 })));
  const moved = payloads.map((p) => rebasePayload(p, shifts.get(p.groupKey)!));

  it('lands a resolve just before it is posted, keeping its spacing, and leaves "not ended" alone', () => {
    const resolved = moved[2]!.alerts[0]!;
    // Posted 4 s after the start; its end lands RESOLVE_LEAD_MS (5 s) before that.
    expect(resolved.endsAt).toBe('2026-11-27T20:59:59.000Z');
    expect(Date.parse(resolved.endsAt) - Date.parse(resolved.startsAt)).toBe(31_000);
    expect(moved[0]!.alerts[0]!.startsAt).toBe(resolved.startsAt);
    expect(moved[0]!.alerts[0]!.endsAt).toBe('0001-01-01T00:00:00Z');
  });

  it('lands a still-firing group a few minutes before it is posted', () => {
    expect(moved[1]!.alerts[0]!.startsAt).toBe('2026-11-27T20:57:02.000Z');
    expect(fixture('firing-high-cpu').alerts[0]!.startsAt).toBe('2026-11-26T02:53:34Z');
  });
});

describe('link and reading helpers', () => {
  const alert = (startsAt: string, fingerprint: string, runbook?: string) => ({
    startsAt,
    fingerprint,
    annotations: (runbook ? { runbook_url: runbook } : {}) as Record<string, string>,
  });

  it('picks the rule annotation of the earliest alert, else the catalog, whatever the order', () => {
    const a = alert('2026-11-26T03:00:00Z', 'b', 'https://wiki/a');
    const b = alert('2026-11-26T03:05:00Z', 'a', 'https://wiki/b');
    expect(pickRunbook([b, a], 'https://catalog')).toBe('https://wiki/a');
    expect(pickRunbook([a, b], 'https://catalog')).toBe('https://wiki/a');
    expect(pickRunbook([alert('2026-11-26T03:00:00Z', 'c')], 'https://catalog')).toBe('https://catalog');
  });

  it('makes tel: links of digits only, refusing anything else', () => {
    expect(telUrl('+31 6 1234 5042')).toBe('tel:+31612345042');
    expect(telUrl('+32 470 12 01 13')).toBe('tel:+32470120113');
    expect(telUrl('(020) 555-0100')).toBe('tel:0205550100');
    expect(telUrl('javascript:alert(1)')).toBeUndefined();
    expect(telUrl('+31 6 <!channel>')).toBeUndefined();
    expect(telUrl('12')).toBeUndefined();
  });

  it('takes the reading furthest outside the range as the peak (too cold counts for frozen cargo)', () => {
    expect(peakReading([9.4, 10.1, 8.6], { minC: 2, maxC: 8 })).toBe(10.1);
    expect(peakReading([-16, -25, -19], { maxC: -18 })).toBe(-16);
    expect(peakReading([1, 0.5], { minC: 2, maxC: 8 })).toBe(0.5);
    expect(peakReading([3, 7])).toBe(7);
    expect(peakReading([])).toBeUndefined();
  });
});

describe('preview Slack files', () => {
  it('carry the username and icon the real sender adds (policy.slack_identity)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-outbox-'));
    const sender = new OutboxSlackSender(dir, { username: 'ColdChain', icon_emoji: ':snowflake:' });
    await sender.postMessage({ channel: '#alerts-critical', text: 'hello' });
    const [file] = readdirSync(join(dir, 'slack'));
    const written = JSON.parse(readFileSync(join(dir, 'slack', file!), 'utf8')) as {
      args: Record<string, string>;
    };
    expect(written.args).toMatchObject({
      channel: '#alerts-critical',
      text: 'hello',
      username: 'ColdChain',
      icon_emoji: ':snowflake:',
    });
  });
});
