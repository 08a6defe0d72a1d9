/**
 * The escalation ladder and the acknowledgement timeout as pure rules (domain/ladder.ts), with an injected
 * clock: not yet due, due, taken once, acknowledgement stops it, a lapse re-arms it with the clock from the
 * lapse, a resolve stops everything; and what the incident tells people.
 */
import { describe, expect, it } from 'vitest';
import { renderNoticeReply } from '../../src/channels/slack/blocks.js';
import type { IncidentFlags, LadderStepTaken } from '../../src/domain/delivery-log.js';
import {
  ackLapseAt,
  describeLadderState,
  dueLadderSteps,
  incidentNotices,
  type LadderInput,
  type LadderStep,
  lapseAcknowledgement,
  nextLadderStep,
  recordStepTaken,
} from '../../src/domain/ladder.js';
import type { DeliveryTarget } from '../../src/domain/model.js';
import { planDelivery } from '../../src/domain/plan.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 27, 3, 0, 0);
const STEPS: LadderStep[] = [
  { after: 15 * 60, slack: ['#dispatch-duty'], email: ['duty-manager@coldchain.example'], mention: [] },
  { after: 30 * 60, slack: [], email: ['schedule:secondary'], mention: [] },
];

const input = (flags: IncidentFlags, now: number, status: 'firing' | 'resolved' = 'firing'): LadderInput => ({
  steps: STEPS,
  flags,
  status,
  startedAt: T0,
  now,
});

const taken = (step: number, at: number, targets: string[] = []): LadderStepTaken => ({
  step,
  at,
  targets,
  mentions: [],
  unknown: [],
});

const target = (id: string): DeliveryTarget => ({
  id,
  kind: 'slack',
  target: `#${id}`,
  route: 'critical/escalate-1',
  repeatSeconds: 300,
  broadcastReminders: false,
});

const ack = (at: number, by = '@maria') => ({ by, at, alertKeys: ['a@1'], truncatedAlerts: 0 });

describe('the ladder (domain/ladder.ts)', () => {
  it('is not due before the first step’s after, and due at it', () => {
    expect(nextLadderStep(input({}, T0))).toEqual({ step: 0, dueAt: T0 + 15 * MIN });
    expect(dueLadderSteps(input({}, T0 + 15 * MIN - 1))).toEqual([]);
    expect(dueLadderSteps(input({}, T0 + 15 * MIN))).toEqual([0]);
  });

  it('takes every step due at once when the relay looks late (both after 31 min)', () => {
    expect(dueLadderSteps(input({}, T0 + 31 * MIN))).toEqual([0, 1]);
  });

  it('takes a step once: the recorded step is no longer due, and recording it again changes nothing', () => {
    const first = recordStepTaken({}, 'critical', taken(0, T0 + 15 * MIN), [target('dispatch')]);
    expect(first?.ladder).toEqual({ route: 'critical', steps: [taken(0, T0 + 15 * MIN)] });
    expect(first?.extraDeliveries?.map((d) => d.id)).toEqual(['dispatch']);
    expect(dueLadderSteps(input(first!, T0 + 20 * MIN))).toEqual([]);
    expect(nextLadderStep(input(first!, T0 + 20 * MIN))).toEqual({ step: 1, dueAt: T0 + 30 * MIN });
    // A second job that found the same step due loses the compare-and-set.
    expect(recordStepTaken(first!, 'critical', taken(0, T0 + 15 * MIN + 5), [target('dispatch')])).toBe(
      undefined,
    );
  });

  it('adds a destination the incident already has only once', () => {
    const flags: IncidentFlags = { extraDeliveries: [target('dispatch')] };
    const next = recordStepTaken(flags, 'critical', taken(0, T0), [target('dispatch'), target('other')]);
    expect(next?.extraDeliveries?.map((d) => d.id)).toEqual(['dispatch', 'other']);
  });

  it('stops while acknowledged: nothing due, nothing recorded', () => {
    const flags: IncidentFlags = { acknowledged: ack(T0 + 5 * MIN) };
    expect(nextLadderStep(input(flags, T0 + 40 * MIN))).toBeUndefined();
    expect(dueLadderSteps(input(flags, T0 + 40 * MIN))).toEqual([]);
    expect(recordStepTaken(flags, 'critical', taken(0, T0 + 40 * MIN), [])).toBeUndefined();
  });

  it('stops for good once resolved', () => {
    expect(nextLadderStep(input({}, T0 + 40 * MIN, 'resolved'))).toBeUndefined();
    expect(dueLadderSteps(input({}, T0 + 40 * MIN, 'resolved'))).toEqual([]);
    expect(describeLadderState(input({}, T0 + 5 * MIN, 'resolved'))).toBeUndefined();
  });

  it('re-arms after a lapse with the clock from the lapse, never repeating a taken step', () => {
    // Step 1 taken at 15 min, acknowledged at 20 min, ack_timeout 30 min: lapses at 50 min.
    let flags: IncidentFlags = {
      ladder: { route: 'critical', steps: [taken(0, T0 + 15 * MIN)] },
      acknowledged: ack(T0 + 20 * MIN),
    };
    expect(ackLapseAt(flags, 30 * 60)).toBe(T0 + 50 * MIN);
    expect(lapseAcknowledgement(flags, 30 * 60, T0 + 50 * MIN - 1)).toBeUndefined();
    expect(lapseAcknowledgement(flags, 0, T0 + 5 * 60 * MIN)).toBeUndefined(); // never lapses
    // Noticed late (at 52 min), the lapse is still dated when it happened.
    flags = lapseAcknowledgement(flags, 30 * 60, T0 + 52 * MIN)!;
    expect(flags.acknowledged).toBeUndefined();
    expect(flags.ackLapses).toEqual([{ by: '@maria', at: T0 + 50 * MIN }]);
    // The next untaken step (30 min) counts from the lapse: due at 80 min, not at 30.
    expect(nextLadderStep(input(flags, T0 + 52 * MIN))).toEqual({ step: 1, dueAt: T0 + 80 * MIN });
    expect(dueLadderSteps(input(flags, T0 + 79 * MIN))).toEqual([]);
    expect(dueLadderSteps(input(flags, T0 + 80 * MIN))).toEqual([1]);
  });

  it('after a lapse before any step, takes the first step its after from the lapse', () => {
    const flags = lapseAcknowledgement({ acknowledged: ack(T0 + 2 * MIN) }, 10 * 60, T0 + 12 * MIN)!;
    expect(nextLadderStep(input(flags, T0 + 12 * MIN))).toEqual({ step: 0, dueAt: T0 + 27 * MIN });
  });

  it('describes what is ahead: "unacknowledged 12m, escalates to #dispatch-duty, … in 3m"', () => {
    expect(describeLadderState(input({}, T0 + 12 * MIN))).toBe(
      'unacknowledged 12m, escalates to #dispatch-duty, duty-manager@coldchain.example in 3m',
    );
    expect(describeLadderState(input({ acknowledged: ack(T0) }, T0 + 12 * MIN))).toBeUndefined();
  });
});

describe('incident notices', () => {
  it('says each step with its destinations, its after, its mentions and who could not be found', () => {
    const flags: IncidentFlags = {
      ladder: {
        route: 'critical',
        steps: [
          {
            step: 0,
            at: T0 + 15 * MIN,
            targets: ['#dispatch-duty', 'duty-manager@coldchain.example'],
            mentions: ['U0123ABCD', '<!channel>'],
            unknown: [],
          },
          {
            step: 1,
            at: T0 + 30 * MIN,
            targets: [],
            mentions: [],
            unknown: ['schedule secondary unreadable'],
          },
        ],
      },
    };
    const [first, second] = incidentNotices(flags, T0, STEPS);
    expect(first).toMatchObject({
      key: 'ladder:0',
      at: T0 + 15 * MIN,
      text: 'Escalated to #dispatch-duty, duty-manager@coldchain.example after 15m without acknowledgement',
      // Only Slack user ids become mentions.
      mentions: ['U0123ABCD'],
    });
    expect(second?.text).toBe(
      'Escalated to nobody new after 30m without acknowledgement; on-call unknown (schedule secondary unreadable)',
    );
  });

  it('dates the catalog escalation when its threshold was crossed and says who was notified', () => {
    const flags: IncidentFlags = {
      escalation: {
        rule: 'pharma-half',
        reason: '50% of the excursion budget used',
        at: T0 + 15 * MIN,
        notified: ['qa@coldchain.example'],
      },
      ackLapses: [{ by: 'Maria Jansen', at: T0 + 40 * MIN }],
    };
    expect(incidentNotices(flags, T0)).toEqual([
      {
        key: 'escalation:pharma-half',
        at: T0 + 15 * MIN,
        label: 'Escalated',
        text: 'Escalated: 50% of the excursion budget used; qa@coldchain.example notified',
        mentions: [],
        reminds: false,
      },
      {
        key: 'lapse:0',
        at: T0 + 40 * MIN,
        label: 'Acknowledgement lapsed',
        text: 'Acknowledgement by Maria Jansen lapsed; reminders and escalation resume',
        mentions: [],
        reminds: true,
      },
    ]);
  });
});

describe('notices in the delivery planner (domain/plan.ts)', () => {
  const snapshot = {
    incidentId: 'i1',
    groupId: 'g1',
    receiver: 'r',
    groupKey: 'k',
    startedAt: T0,
    status: 'firing' as const,
    truncatedAlerts: 0,
    alerts: [
      {
        fingerprint: 'a',
        startsAt: '1',
        status: 'firing' as const,
        labels: {},
        annotations: {},
        endsAt: '',
        generatorURL: '',
      },
    ],
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: '',
    lastSeenAt: T0 + 40 * MIN,
    severity: 'critical',
    deliveries: [target('critical')],
  };
  const flags: IncidentFlags = {
    ladder: { route: 'critical', steps: [taken(0, T0 + 15 * MIN, ['#dispatch-duty'])] },
  };
  const notices = incidentNotices(flags, T0, STEPS);
  const base = { snapshot, flags, delivery: target('critical'), staleAfterMs: 3600_000, notices };
  const told = { status: 'firing' as const, truncatedAlerts: 0, alerts: { 'a@1': 'firing' as const } };

  it('a destination added by the step hears the story in its first message', () => {
    const log = { references: [], reminders: 0, staleNotified: false, events: [] };
    expect(planDelivery({ ...base, log, now: T0 + 16 * MIN })).toEqual([
      { kind: 'post', notices: ['ladder:0'] },
    ]);
  });

  it('an existing destination tells it once in its thread', () => {
    const log = {
      references: [],
      reminders: 0,
      staleNotified: false,
      events: [],
      root: { channel: 'C1', ts: '1', at: T0 },
      told,
      lastNotifiedAt: T0 + 15 * MIN,
    };
    expect(planDelivery({ ...base, log, now: T0 + 16 * MIN }).map((a) => a.kind)).toEqual(['notice']);
    expect(planDelivery({ ...base, log: { ...log, noticesTold: ['ladder:0'] }, now: T0 + 16 * MIN })).toEqual(
      [],
    );
    // Resolved: nothing more is told.
    const resolved = { ...snapshot, status: 'resolved' as const };
    expect(
      planDelivery({
        ...base,
        snapshot: resolved,
        log: { ...log, told: { ...told, status: 'resolved' } },
        now: T0 + 16 * MIN,
      }),
    ).toEqual([]);
  });

  it('a lapse is told as a reminder (no second reminder in the same run)', () => {
    const lapsed = { ackLapses: [{ by: '@maria', at: T0 + 40 * MIN }] };
    const log = {
      references: [],
      reminders: 1,
      staleNotified: false,
      events: [],
      root: { channel: 'C1', ts: '1', at: T0 },
      told,
      lastNotifiedAt: T0,
      acknowledgedNotified: true,
    };
    const actions = planDelivery({
      ...base,
      flags: lapsed,
      notices: incidentNotices(lapsed, T0),
      log,
      now: T0 + 41 * MIN,
    });
    expect(actions.map((a) => a.kind)).toEqual(['notice']);
  });
});

describe('the notice as a Slack reply', () => {
  it('escapes the text and mentions only Slack user ids', () => {
    const reply = renderNoticeReply({
      key: 'ladder:0',
      at: T0,
      label: 'Escalated (step 1)',
      text: 'Escalated to <!channel> & #dispatch-duty after 15m without acknowledgement',
      mentions: ['U0123ABCD', '!here', 'W0456EFGH'],
      reminds: false,
    });
    expect(reply).toBe(
      ':arrow_double_up: Escalated to &lt;!channel&gt; &amp; #dispatch-duty after 15m without acknowledgement. <@U0123ABCD> <@W0456EFGH>',
    );
  });
});
