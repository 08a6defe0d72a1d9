/**
 * The planner with ALERTMANAGER_URL set (DESIGN.md §Alertmanager is the source of truth, §Repeat policy):
 * "stale" only when Alertmanager cannot be asked; a periodic check for deliveries whose reminders are paused
 * or absent; and stale wording that gives the right advice in each case.
 */
import { describe, expect, it } from 'vitest';
import { loadEmailTemplates } from '../../src/channels/email/render.js';
import { renderStaleReply } from '../../src/channels/slack/blocks.js';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import { type DeliveryLog, EMPTY_LOG, type IncidentFlags } from '../../src/domain/delivery-log.js';
import type { DeliveryTarget, IncidentSnapshot } from '../../src/domain/model.js';
import {
  alertmanagerCheckAt,
  firingKeys,
  needsAlertmanager,
  nextWake,
  type PlanInput,
  planDelivery,
  toldStateOf,
} from '../../src/domain/plan.js';
import { buildView } from '../../src/render/view.js';
import { fixture } from '../support/fixtures.js';

const T0 = 1_800_000_000_000;
const MIN = 60_000;
const STALE = 30 * MIN;
const CHECK = MIN;
const URLS = ['http://am-a:9093', 'http://am-b:9093'];
const critical: DeliveryTarget = {
  id: 'd1',
  kind: 'slack',
  target: '#alerts-critical',
  route: 'critical',
  repeatSeconds: 300,
  broadcastReminders: false,
};
const info: DeliveryTarget = { ...critical, id: 'd2', target: '#alerts-info', repeatSeconds: 0 };

const firing = mergeWebhook(undefined, fixture('firing-postgresql-down'), T0).snapshot;

function notifiedLog(snapshot: IncidentSnapshot, at: number): DeliveryLog {
  return {
    ...structuredClone(EMPTY_LOG),
    root: { channel: 'C1', ts: '1.1', at },
    told: toldStateOf(snapshot),
    lastNotifiedAt: at,
  };
}

function input(
  now: number,
  options: {
    snapshot?: IncidentSnapshot;
    log?: DeliveryLog;
    flags?: IncidentFlags;
    delivery?: DeliveryTarget;
    answered?: boolean;
    /** Whether the answering Alertmanagers report the alerts (default: when they answered). */
    reports?: boolean;
    configured?: boolean;
  } = {},
): PlanInput {
  const snapshot = options.snapshot ?? firing;
  const configured = options.configured ?? true;
  return {
    snapshot,
    log: options.log ?? notifiedLog(snapshot, T0),
    flags: options.flags ?? {},
    delivery: options.delivery ?? critical,
    now,
    staleAfterMs: STALE,
    alertmanagerCheckMs: configured ? CHECK : undefined,
    alertmanager:
      configured && options.answered !== undefined
        ? { answered: options.answered, reports: options.reports ?? options.answered, urls: URLS }
        : undefined,
  };
}

const acknowledged = (s: IncidentSnapshot): IncidentFlags => ({
  acknowledged: { by: 'maria', at: T0, alertKeys: firingKeys(s), truncatedAlerts: 0 },
});

describe('staleness with ALERTMANAGER_URL', () => {
  const late = T0 + STALE + MIN;

  it('is not stale while an Alertmanager answers, however long since the last webhook: reminders go on', () => {
    const actions = planDelivery(input(late, { answered: true }));
    expect(actions.map((a) => a.kind)).toEqual(['reminder']);
  });

  it('is stale when none answers, and the stale action names the Alertmanagers that could not be reached', () => {
    const actions = planDelivery(input(late, { answered: false }));
    expect(actions).toEqual([
      { kind: 'stale', lastSeenAt: firing.lastSeenAt, alertmanager: { urls: URLS, answered: false } },
    ]);
  });

  it('is stale when those that answer do not know the alerts (a wrong URL, or restarted since)', () => {
    const actions = planDelivery(input(late, { answered: true, reports: false }));
    expect(actions).toEqual([
      { kind: 'stale', lastSeenAt: firing.lastSeenAt, alertmanager: { urls: URLS, answered: true } },
    ]);
  });

  it('keeps the heartbeat rule without ALERTMANAGER_URL', () => {
    const actions = planDelivery(input(late, { configured: false }));
    expect(actions).toEqual([{ kind: 'stale', lastSeenAt: firing.lastSeenAt }]);
  });
});

describe('asking Alertmanager', () => {
  it('asks for a posted, firing delivery, not for the first post, a resolved incident or a change it just sent', () => {
    expect(needsAlertmanager(input(T0 + MIN))).toBe(true);
    expect(needsAlertmanager(input(T0 + MIN, { log: structuredClone(EMPTY_LOG) }))).toBe(false);
    const resolved = mergeWebhook(firing, fixture('resolved-postgresql-down'), T0 + MIN).snapshot;
    expect(needsAlertmanager(input(T0 + MIN, { snapshot: resolved }))).toBe(false);
    const joined = mergeWebhook(
      mergeWebhook(undefined, fixture('group-first-replica-a'), T0).snapshot,
      fixture('group-truncated-replica-a'),
      T0 + MIN,
    ).snapshot;
    const before = mergeWebhook(undefined, fixture('group-first-replica-a'), T0).snapshot;
    expect(needsAlertmanager(input(T0 + MIN, { snapshot: joined, log: notifiedLog(before, T0) }))).toBe(
      false,
    );
    expect(needsAlertmanager(input(T0 + MIN, { configured: false }))).toBe(false);
  });
});

describe('the periodic check (nextWake)', () => {
  const now = T0 + 2 * MIN;

  it('wakes every check interval while reminders are acknowledged, silenced from Slack, or absent', () => {
    expect(nextWake(input(now, { flags: acknowledged(firing) }))).toEqual({ at: now + CHECK, check: true });
    expect(nextWake(input(now, { flags: { silencedUntil: now + 60 * MIN } }))).toEqual({
      at: now + CHECK,
      check: true,
    });
    expect(nextWake(input(now, { delivery: info }))).toEqual({ at: now + CHECK, check: true });
    // Without ALERTMANAGER_URL those deliveries sleep (acknowledged, never) or wait for the silence's end.
    expect(nextWake(input(now, { flags: acknowledged(firing), configured: false }))).toBeUndefined();
    expect(nextWake(input(now, { delivery: info, configured: false }))).toBeUndefined();
  });

  it('also wakes a delivery whose reminders run, between reminders: a silence made in Alertmanager stops them unseen', () => {
    expect(alertmanagerCheckAt(input(now))).toBe(now + CHECK);
    expect(nextWake(input(now))).toEqual({ at: now + CHECK, check: true });
    // A reminder due sooner asks Alertmanager itself: that wake is not a mere check.
    const soon = T0 + 5 * MIN - 10_000;
    expect(nextWake(input(soon))).toEqual({ at: T0 + 5 * MIN, check: false });
    expect(nextWake(input(now, { configured: false }))).toEqual({ at: T0 + 5 * MIN, check: false });
  });

  it('never wakes in a loop once the heartbeat is missing but Alertmanager answers', () => {
    const late = T0 + STALE + 2 * MIN;
    const log = notifiedLog(firing, late);
    const wake = nextWake(input(late, { log, answered: true }));
    expect(wake!.at).toBeGreaterThan(late);
    expect(wake).toEqual({ at: late + CHECK, check: true });
  });

  it('keeps asking a stale group while no Alertmanager answers, so it revives when one does', () => {
    const late = T0 + STALE + MIN;
    const log = { ...notifiedLog(firing, T0), staleNotified: true };
    expect(nextWake(input(late, { log, answered: false }))).toEqual({ at: late + CHECK, check: true });
    expect(nextWake(input(late, { log, configured: false }))).toBeUndefined();
  });

  it('wakes for nothing once resolved, and `never` keeps only the checks before reminders', () => {
    const resolved = mergeWebhook(firing, fixture('resolved-postgresql-down'), T0 + MIN).snapshot;
    expect(nextWake(input(now, { snapshot: resolved, flags: acknowledged(firing) }))).toBeUndefined();
    expect(
      alertmanagerCheckAt({ ...input(now, { flags: acknowledged(firing) }), alertmanagerCheckMs: 0 }),
    ).toBe(undefined);
  });
});

describe('stale wording', () => {
  const now = firing.lastSeenAt + 40 * MIN;

  it('says Alertmanager cannot be reached when the relay asked and none answered', () => {
    const text = renderStaleReply(firing.lastSeenAt, now, { urls: URLS, answered: false });
    expect(text).toContain('Alertmanager at http://am-a:9093, http://am-b:9093 cannot be reached');
    expect(text).toContain('Reminders stop');
    expect(text).not.toContain('ALERTMANAGER_URL');
  });

  it('says Alertmanager does not know the alerts when it answers without them', () => {
    const text = renderStaleReply(firing.lastSeenAt, now, { urls: URLS, answered: true });
    expect(text).toContain('answers but does not report these alerts');
    expect(text).toContain('ALERTMANAGER_URL does not name');
    expect(text).not.toContain('cannot be reached');
  });

  it('without ALERTMANAGER_URL, says the heartbeat is missing and that a silenced alert that ended looks the same', () => {
    const text = renderStaleReply(firing.lastSeenAt, now);
    expect(text).toContain('has not re-sent this group');
    expect(text).toContain('ended while silenced or inhibited');
    expect(text).toContain('set ALERTMANAGER_URL');
    expect(text).not.toContain('cannot be reached');
  });

  it('gives the same advice by email', () => {
    const templates = loadEmailTemplates();
    const view = buildView(firing, { now });
    const options = { subject: 'Re: x', now };
    const unreachable = templates.render(
      view,
      { kind: 'stale', lastSeenAt: firing.lastSeenAt, alertmanager: { urls: URLS, answered: false } },
      options,
    );
    expect(unreachable.text.startsWith('Alertmanager unreachable')).toBe(true);
    expect(unreachable.text).toContain(
      'Alertmanager at http://am-a:9093, http://am-b:9093 cannot be reached',
    );
    const heartbeat = templates.render(view, { kind: 'stale', lastSeenAt: firing.lastSeenAt }, options);
    expect(heartbeat.text.startsWith('No heartbeat')).toBe(true);
    expect(heartbeat.text).toContain('ended while silenced or inhibited');
  });
});
