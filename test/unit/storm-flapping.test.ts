/** The pure rules of the storm digest and flap control (issue 14, items 8 and 9), with an injected clock. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parsePolicy } from '../../src/config/config.js';
import { decideFlapping, type Episode, flapCounter, formatWindow } from '../../src/domain/flapping.js';
import {
  ARRIVAL_MEMORY_MS,
  changedSince,
  type DigestMember,
  EMPTY_WINDOW,
  isPublished,
  joinStorm,
  markSent,
  newDigest,
  type StormWindow,
  withMember,
} from '../../src/domain/storm.js';

const POLICY = { threshold: 5, windowMs: 30_000 };
const T0 = 1_800_000_000_000;

/** Decides `ids` in order at `at` (ms after T0 each), returning the decisions and the final window. */
function decideAll(ids: string[], at: (i: number) => number, start: StormWindow = EMPTY_WINDOW) {
  let window = start;
  const decisions = ids.map((id, i) => {
    const joined = joinStorm(window, id, T0 + at(i), POLICY, `storm-${id}`);
    window = joined.window;
    return joined.decision;
  });
  return { decisions, window };
}

describe('joinStorm', () => {
  it('lets the first `threshold` queued incidents post on their own and opens one storm for the rest', () => {
    const ids = Array.from({ length: 12 }, (_, i) => `i${i}`);
    const { decisions } = decideAll(ids, (i) => i * 10);
    expect(decisions.slice(0, 5).every((d) => d.kind === 'own')).toBe(true);
    expect(decisions[5]).toEqual({ kind: 'digest', stormId: 'storm-i5', opened: true });
    // Everyone after joins the storm the sixth opened.
    for (const d of decisions.slice(6))
      expect(d).toEqual({ kind: 'digest', stormId: 'storm-i5', opened: false });
  });

  it('is sticky: the same incident asking again gets the same decision, and counts once', () => {
    const { window } = decideAll(['a', 'b', 'c', 'd', 'e', 'f'], () => 0);
    const again = joinStorm(window, 'f', T0 + 5000, POLICY, 'other');
    expect(again.decision).toEqual({ kind: 'digest', stormId: 'storm-f', opened: false });
    expect(again.window).toBe(window);
    expect(joinStorm(window, 'a', T0 + 5000, POLICY, 'other').decision).toEqual({ kind: 'own' });
  });

  it('does not count incidents whose own message went out: a channel that keeps up has no storm', () => {
    let window: StormWindow = EMPTY_WINDOW;
    for (let i = 0; i < 20; i++) {
      const joined = joinStorm(window, `i${i}`, T0 + i * 500, POLICY, `s${i}`);
      expect(joined.decision.kind).toBe('own');
      window = markSent(joined.window, `i${i}`);
    }
  });

  it('does not count incidents older than the window, and forgets them after the memory', () => {
    const five = decideAll(['a', 'b', 'c', 'd', 'e'], () => 0).window;
    // 31 s later the five are outside the window: the sixth posts on its own.
    expect(joinStorm(five, 'f', T0 + 31_000, POLICY, 's').decision).toEqual({ kind: 'own' });
    const later = joinStorm(five, 'f', T0 + ARRIVAL_MEMORY_MS + 1, POLICY, 's').window;
    expect(later.arrivals.map((a) => a.incidentId)).toEqual(['f']);
  });

  it('keeps the storm open while incidents keep arriving within a window of the last, then closes it', () => {
    const { window } = decideAll(['a', 'b', 'c', 'd', 'e', 'f'], () => 0);
    const sent = ['a', 'b', 'c', 'd', 'e'].reduce((w, id) => markSent(w, id), window);
    // Nothing queued any more, but the storm is open: a newcomer 20 s later joins it and extends it.
    const g = joinStorm(sent, 'g', T0 + 20_000, POLICY, 's-g');
    expect(g.decision).toEqual({ kind: 'digest', stormId: 'storm-f', opened: false });
    expect(g.window.open?.until).toBe(T0 + 50_000);
    // 31 s after the last join it has closed: the next one posts on its own.
    expect(joinStorm(g.window, 'h', T0 + 51_000, POLICY, 's-h').decision).toEqual({ kind: 'own' });
  });
});

describe('the digest record', () => {
  const member = (id: string, state: DigestMember['state'] = 'firing'): DigestMember => ({
    incidentId: id,
    title: 'ReeferUnitFault · TRK-1',
    severity: 'critical',
    vehicle: 'TRK-1',
    state,
  });

  it('bumps the version on a change only, and never reopens a resolved member', () => {
    const d0 = newDigest('s', T0);
    const d1 = withMember(d0, member('a'));
    expect(d1.version).toBe(1);
    expect(withMember(d1, member('a'))).toBe(d1);
    const d2 = withMember(d1, member('a', 'resolved'));
    expect(d2.version).toBe(2);
    expect(withMember(d2, member('a', 'firing'))).toBe(d2);
    expect(isPublished(d2, 2)).toBe(false);
    expect(isPublished({ ...d2, published: { version: 2 } }, 2)).toBe(true);
  });

  it('tells an update mail only what changed since the last mail', () => {
    const members = [member('a', 'resolved'), member('b'), member('c')];
    expect(changedSince(members, { a: 'firing', b: 'firing' }).map((m) => m.incidentId)).toEqual(['a', 'c']);
    expect(changedSince(members, undefined)).toHaveLength(3);
  });
});

describe('decideFlapping', () => {
  const MIN = 60_000;
  const policy = { count: 3, windowMs: 30 * MIN };
  /** Episodes every 5 minutes, each resolved 2 minutes after it fired. */
  const episodes = (n: number): Episode[] =>
    Array.from({ length: n }, (_, i) => ({
      incidentId: `e${i}`,
      startedAt: T0 + i * 5 * MIN,
      resolvedAt: T0 + i * 5 * MIN + 2 * MIN,
    }));
  const all = (n: number) => new Set(episodes(n).map((e) => e.incidentId));

  it('is not flapping until the group fired again more than `count` times within the window', () => {
    const list = episodes(5);
    // The fourth firing is the third re-fire: not more than 3.
    expect(decideFlapping(list, list[3]!, policy, all(5)).flapping).toBe(false);
    const fifth = decideFlapping(list, list[4]!, policy, all(4));
    expect(fifth).toEqual({ flapping: true, times: 5, lastSettledAt: T0 + 17 * MIN, anchor: 'e0' });
  });

  it('reuses the earliest episode in the window that has a message of its own', () => {
    const list = episodes(6);
    // Only e2 and e3 posted a message of their own to this destination (e0 and e1 went elsewhere).
    const decision = decideFlapping(list, list[5]!, policy, new Set(['e2', 'e3']));
    expect(decision.anchor).toBe('e2');
  });

  it('looks only within the window, and posts anew when no earlier message can be reused', () => {
    const list = episodes(5);
    expect(decideFlapping(list, list[4]!, { count: 3, windowMs: 10 * MIN }, all(5)).flapping).toBe(false);
    expect(decideFlapping(list, list[4]!, policy, new Set()).flapping).toBe(false);
  });

  it('with count 0, every re-fire within the window is shown on the first message', () => {
    const list = episodes(2);
    expect(decideFlapping(list, list[1]!, { count: 0, windowMs: 30 * MIN }, all(1))).toMatchObject({
      flapping: true,
      times: 2,
      anchor: 'e0',
    });
  });

  it('says how often, in words', () => {
    expect(flapCounter({ times: 5, windowMs: 30 * MIN })).toBe('flapping: 5 times in 30 min');
    expect(formatWindow(2 * 3600_000)).toBe('2 h');
    expect(formatWindow(45_000)).toBe('45 s');
  });
});

describe('policy keys', () => {
  const route = (extra: string) =>
    `routes:\n  - name: critical\n    matchers: ['severity="critical"']\n    slack: ['#alerts-critical']\n    repeat: 5m\n${extra}fallback_route: critical\n`;

  it('defaults each route to storm {5, 30s} and flapping {3, 30m}', () => {
    const [r] = parsePolicy(route(''), 'test').routes;
    expect(r?.storm).toEqual({ threshold: 5, window: 30 });
    expect(r?.flapping).toEqual({ count: 3, window: 1800 });
  });

  it('reads them per route', () => {
    const [r] = parsePolicy(
      route('    storm: { threshold: 10, window: 1m }\n    flapping: { count: 0, window: 2h }\n'),
      'test',
    ).routes;
    expect(r?.storm).toEqual({ threshold: 10, window: 60 });
    expect(r?.flapping).toEqual({ count: 0, window: 7200 });
  });

  it.each([
    ['    storm: { threshold: 0 }\n', 'routes.0.storm.threshold'],
    ['    storm: { window: never }\n', 'routes.0.storm.window: must be longer than 0'],
    ['    storm: { treshold: 5 }\n', 'routes.0.storm'],
    ['    flapping: { count: -1 }\n', 'routes.0.flapping.count'],
    ['    flapping: { window: soon }\n', 'routes.0.flapping.window'],
  ])('refuses %j naming the key path', (extra, path) => {
    expect(() => parsePolicy(route(extra), 'policy.yaml')).toThrow(ConfigError);
    expect(() => parsePolicy(route(extra), 'policy.yaml')).toThrow(`policy.yaml: ${path}`);
  });
});
