/**
 * The escalation ladder and the acknowledgement timeout (issue 12), as pure rules over an incident's flags:
 * which step is due, when the next one will be, when an acknowledgement lapses, and what each of these tells
 * people (the incident's notices). The worker applies them (src/deliver/escalate.ts); these functions only
 * decide, with the clock passed in, so every case is a unit test.
 *
 * The ladder's clock starts at the incident's first notification (`startedAt`) or, after an acknowledgement
 * lapsed, at the last lapse. A step is due once the incident has been unacknowledged for its `after` since
 * then; taken steps are never taken again; an acknowledgement stops it; a resolve stops everything.
 */
import type { IncidentFlags, LadderStepTaken } from './delivery-log.js';
import { formatDuration, formatElapsed } from './duration.js';
import type { AlertStatus } from './model.js';

/** One configured step (a route's `escalate:` entry); `after` in seconds. */
export interface LadderStep {
  after: number;
  slack: readonly string[];
  email: readonly string[];
  mention: readonly string[];
}

export interface LadderInput {
  steps: readonly LadderStep[];
  flags: IncidentFlags;
  status: AlertStatus;
  /** When the incident was first notified (ms). */
  startedAt: number;
  now: number;
}

/** Where the ladder's clock runs from: the first notification, or the last lapse of an acknowledgement. */
export function ladderClockStart(flags: IncidentFlags, startedAt: number): number {
  return Math.max(startedAt, flags.ackLapses?.at(-1)?.at ?? startedAt);
}

/** The first step not taken yet, and when it is due (undefined when acknowledged, resolved or all taken). */
export function nextLadderStep(input: LadderInput): { step: number; dueAt: number } | undefined {
  const { steps, flags } = input;
  if (input.status !== 'firing' || flags.acknowledged) return undefined;
  const taken = new Set((flags.ladder?.steps ?? []).map((s) => s.step));
  const start = ladderClockStart(flags, input.startedAt);
  const step = steps.findIndex((_, i) => !taken.has(i));
  if (step < 0) return undefined;
  return { step, dueAt: start + (steps[step] as LadderStep).after * 1000 };
}

/**
 * Every step due now, in order. Steps' `after` increase, so the due ones are a run from the first untaken one:
 * a relay that was down past two steps takes both when it is back.
 */
export function dueLadderSteps(input: LadderInput): number[] {
  const first = nextLadderStep(input);
  if (!first || first.dueAt > input.now) return [];
  const start = ladderClockStart(input.flags, input.startedAt);
  const due: number[] = [];
  for (let i = first.step; i < input.steps.length; i++) {
    if (start + (input.steps[i] as LadderStep).after * 1000 > input.now) break;
    due.push(i);
  }
  return due;
}

/**
 * The flags with step `step` recorded as taken, or undefined when it must not be taken (any more): already
 * taken, acknowledged meanwhile, or resolved. Written for `updateFlags`' compare-and-set, so that of several
 * jobs finding the step due exactly one records it.
 */
export function recordStepTaken(
  flags: IncidentFlags,
  route: string,
  taken: LadderStepTaken,
  added: IncidentFlags['extraDeliveries'],
): IncidentFlags | undefined {
  if (flags.acknowledged) return undefined;
  if (flags.ladder?.steps.some((s) => s.step === taken.step)) return undefined;
  const known = new Set((flags.extraDeliveries ?? []).map((d) => d.id));
  return {
    ...flags,
    ladder: { route: flags.ladder?.route ?? route, steps: [...(flags.ladder?.steps ?? []), taken] },
    extraDeliveries: [...(flags.extraDeliveries ?? []), ...(added ?? []).filter((d) => !known.has(d.id))],
  };
}

/** When the current acknowledgement lapses (ms), if `ack_timeout` is set (seconds; 0 = never). */
export function ackLapseAt(flags: IncidentFlags, ackTimeoutSeconds: number): number | undefined {
  if (!flags.acknowledged || ackTimeoutSeconds <= 0) return undefined;
  return flags.acknowledged.at + ackTimeoutSeconds * 1000;
}

/**
 * The flags with the acknowledgement lapsed, or undefined when it has not (yet, or any more). The lapse is
 * dated when it happened (`at + ack_timeout`), not when a job noticed it: the ladder's clock restarts there.
 */
export function lapseAcknowledgement(
  flags: IncidentFlags,
  ackTimeoutSeconds: number,
  now: number,
): IncidentFlags | undefined {
  const at = ackLapseAt(flags, ackTimeoutSeconds);
  if (at === undefined || at > now || !flags.acknowledged) return undefined;
  const { acknowledged, ...rest } = flags;
  return { ...rest, ackLapses: [...(flags.ackLapses ?? []), { by: acknowledged.by, at }] };
}

/** Something the incident tells every destination once, in its thread: an escalation or a lapse. */
export interface IncidentNotice {
  /** Stable per notice, recorded in each delivery's `noticesTold`. */
  key: string;
  at: number;
  /** Short label (email event label, timeline event). */
  label: string;
  /** Plain text; renderers escape it. */
  text: string;
  /** Slack user ids to mention (from configuration or a schedule, never from labels). */
  mentions: string[];
  /** True for a lapse: it is a reminder too (it restarts the delivery's reminder clock). */
  reminds: boolean;
}

/** Slack user ids as Slack issues them; anything else is never turned into a mention. */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

function stepNotice(taken: LadderStepTaken, steps: readonly LadderStep[] | undefined): IncidentNotice {
  const after = taken.after ?? steps?.[taken.step]?.after;
  const where = taken.targets.length ? taken.targets.join(', ') : 'nobody new';
  const unknown = taken.unknown.length ? `; on-call unknown (${taken.unknown.join('; ')})` : '';
  return {
    key: `ladder:${taken.step}`,
    at: taken.at,
    label: `Escalated (step ${taken.step + 1})`,
    text: `Escalated to ${where}${after !== undefined ? ` after ${formatDuration(after)} without acknowledgement` : ' without acknowledgement'}${unknown}`,
    mentions: taken.mentions.filter((id) => SLACK_USER_ID.test(id)),
    reminds: false,
  };
}

/**
 * What the incident has to tell, oldest first: the catalog's escalation (issue 14: "Escalated: 50% of the
 * excursion budget used; QA notified"), each ladder step taken and each lapse. Deliveries tell the ones they
 * have not told; a first message carries them all.
 */
export function incidentNotices(
  flags: IncidentFlags,
  startedAt: number,
  steps?: readonly LadderStep[],
): IncidentNotice[] {
  const notices: IncidentNotice[] = [];
  const esc = flags.escalation;
  if (esc) {
    const parts = [esc.reason];
    if (esc.severity) parts.push(`now ${esc.severity}`);
    if (esc.notified?.length) parts.push(`${esc.notified.join(', ')} notified`);
    notices.push({
      key: `escalation:${esc.rule}`,
      at: esc.at ?? startedAt,
      label: 'Escalated',
      text: `Escalated: ${parts.join('; ')}`,
      mentions: [],
      reminds: false,
    });
  }
  for (const taken of flags.ladder?.steps ?? []) notices.push(stepNotice(taken, steps));
  (flags.ackLapses ?? []).forEach((lapse, i) => {
    notices.push({
      key: `lapse:${i}`,
      at: lapse.at,
      label: 'Acknowledgement lapsed',
      text: `Acknowledgement by ${lapse.by} lapsed; reminders and escalation resume`,
      mentions: [],
      reminds: true,
    });
  });
  return notices.sort((a, b) => a.at - b.at);
}

/**
 * The escalation state a firing message shows: "unacknowledged 12m, escalates to #dispatch-duty in 3m".
 * Undefined when there is nothing ahead (acknowledged, resolved, no ladder, every step taken).
 */
export function describeLadderState(input: LadderInput): string | undefined {
  const next = nextLadderStep(input);
  if (!next) return undefined;
  const step = input.steps[next.step] as LadderStep;
  const start = ladderClockStart(input.flags, input.startedAt);
  const where = [...step.slack, ...step.email].join(', ') || 'the next step';
  const wait = next.dueAt - input.now;
  return `unacknowledged ${formatElapsed(input.now - start, 'down')}, escalates to ${where} ${wait > 0 ? `in ${formatElapsed(wait)}` : 'now'}`;
}

/** The ladders for `check-config`: each route's steps in order, and when an acknowledgement lapses. */
export function describeLadders(
  routes: readonly { name: string; escalate: readonly LadderStep[] }[],
  ackTimeoutSeconds: number,
): string {
  const laddered = routes.filter((r) => r.escalate.length > 0);
  if (laddered.length === 0) return 'escalation ladders: none (no route has escalate:)';
  const lines = [
    `escalation ladders (taken while unacknowledged; an acknowledgement ${ackTimeoutSeconds > 0 ? `lapses after ${formatDuration(ackTimeoutSeconds)}` : 'never lapses (ack_timeout unset)'}):`,
  ];
  for (const route of laddered) {
    lines.push(`  route ${route.name}:`);
    route.escalate.forEach((step, i) => {
      const to = [...step.slack, ...step.email].join(', ') || '(no new destination)';
      const mention = step.mention.length ? `; mention ${step.mention.join(', ')}` : '';
      lines.push(`    ${i + 1}. after ${formatDuration(step.after)} → ${to}${mention}`);
    });
  }
  return lines.join('\n');
}
