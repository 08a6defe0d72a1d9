/**
 * The escalation ladder and the acknowledgement timeout as the worker applies them (rules: domain/ladder.ts).
 * Every reconcile job of a firing incident runs this before it plans: the job that finds an acknowledgement
 * lapsed or a step due records it with `updateFlags`' compare-and-set, so of the incident's concurrent jobs
 * exactly one takes it, and that one queues every delivery (new destinations post, the others tell it in
 * their thread). Nothing here keeps time in memory: each delivery's next reconcile is a BullMQ delayed job
 * scheduled for the next due moment (see `ladderWakeAt`), so the ladder survives restarts.
 */
import { reconcileAll } from '../ack/acknowledge.js';
import { ONCALL, type Policy, type RouteConfig, SCHEDULE_REF } from '../config/config.js';
import type { IncidentFlags, LadderStepTaken } from '../domain/delivery-log.js';
import {
  ackLapseAt,
  dueLadderSteps,
  type LadderStep,
  ladderClockStart,
  lapseAcknowledgement,
  nextLadderStep,
  recordStepTaken,
} from '../domain/ladder.js';
import type { DeliveryTarget, IncidentSnapshot } from '../domain/model.js';
import type { DeliveryQueuePort } from '../enqueue/delivery-queue.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { OnCallResolver } from '../oncall/types.js';
import { deliveriesFor, PREVIEW_ONCALL } from '../route/route.js';
import type { DeliveryStore } from '../store/delivery-store.js';

export interface EscalateDeps {
  deliveries: DeliveryStore;
  queue: DeliveryQueuePort;
  policy: Policy;
  oncallEmail: string | undefined;
  /** Who is on call; without it a `schedule:NAME` resolves to "on-call unknown". */
  oncall?: OnCallResolver | undefined;
  metrics?: Metrics | undefined;
  logger: Logger;
}

/**
 * The ladder an incident follows: the first of its routes (fixed at its first notification) that has one,
 * or the route already recorded in its flags.
 */
export function ladderOf(
  policy: Policy,
  snapshot: Pick<IncidentSnapshot, 'deliveries'>,
  flags: IncidentFlags,
): RouteConfig | undefined {
  if (flags.ladder) return policy.routes.find((r) => r.name === flags.ladder?.route && r.escalate.length);
  const names = new Set(snapshot.deliveries.map((d) => d.route));
  return policy.routes.find((r) => names.has(r.name) && r.escalate.length > 0);
}

/** The next moment the ladder or the acknowledgement timeout needs a look (ms), for the delivery's next wake. */
export function ladderWakeAt(
  policy: Policy,
  snapshot: IncidentSnapshot,
  flags: IncidentFlags,
): number | undefined {
  if (snapshot.status !== 'firing') return undefined;
  const route = ladderOf(policy, snapshot, flags);
  const next = route
    ? nextLadderStep({
        steps: route.escalate,
        flags,
        status: snapshot.status,
        startedAt: snapshot.startedAt,
        now: 0,
      })?.dueAt
    : undefined;
  const candidates = [next, ackLapseAt(flags, policy.ack_timeout)].filter(
    (t): t is number => t !== undefined,
  );
  return candidates.length ? Math.min(...candidates) : undefined;
}

/** Lapses an acknowledgement past `ack_timeout`, then takes every ladder step due; returns the flags now. */
export async function advanceLadder(
  snapshot: IncidentSnapshot,
  flags: IncidentFlags,
  deps: EscalateDeps,
  now: number,
): Promise<IncidentFlags> {
  if (snapshot.status !== 'firing') return flags;
  let current = flags;
  if (lapseAcknowledgement(current, deps.policy.ack_timeout, now)) {
    let lapsed = false;
    current = await deps.deliveries.updateFlags(snapshot.groupId, snapshot.incidentId, (stored) => {
      const next = lapseAcknowledgement(stored, deps.policy.ack_timeout, now);
      lapsed = next !== undefined;
      return next ?? stored;
    });
    if (lapsed) {
      deps.logger.warn(
        { incidentId: snapshot.incidentId, by: current.ackLapses?.at(-1)?.by },
        'acknowledgement lapsed (ack_timeout): reminders and escalation resume',
      );
      await reconcileAll(snapshot, current, deps.queue);
    }
  }
  const route = ladderOf(deps.policy, snapshot, current);
  if (!route) return current;
  const input = { steps: route.escalate, status: snapshot.status, startedAt: snapshot.startedAt, now };
  for (const step of dueLadderSteps({ ...input, flags: current })) {
    const clockStart = ladderClockStart(current, snapshot.startedAt);
    const resolved = await resolveStep(route, step, deps, now);
    const { taken } = resolved;
    // A destination the incident had from its first notification is not added twice.
    const added = resolved.added.filter((d) => !snapshot.deliveries.some((s) => s.id === d.id));
    let took = false;
    current = await deps.deliveries.updateFlags(snapshot.groupId, snapshot.incidentId, (stored) => {
      const next = recordStepTaken(stored, route.name, taken, added);
      took = next !== undefined;
      return next ?? stored;
    });
    if (!took) continue;
    deps.metrics?.escalations.inc({ route: route.name, step: String(step + 1) });
    for (const schedule of resolved.unknownSchedules) deps.metrics?.oncallUnknown.inc({ schedule });
    deps.logger.warn(
      {
        incidentId: snapshot.incidentId,
        route: route.name,
        step: step + 1,
        targets: taken.targets,
        unknown: taken.unknown,
        lateMs: now - (clockStart + (route.escalate[step] as LadderStep).after * 1000),
      },
      'incident escalated: ladder step taken',
    );
    await reconcileAll(snapshot, current, deps.queue);
  }
  return current;
}

/**
 * What a step adds, resolved now: its Slack channels, its addresses (`oncall` and `schedule:NAME` included)
 * and its mentions. A schedule that cannot answer leaves its part out and says why; the step still escalates
 * to the rest.
 */
async function resolveStep(
  route: RouteConfig,
  index: number,
  deps: EscalateDeps,
  now: number,
): Promise<{ taken: LadderStepTaken; added: DeliveryTarget[]; unknownSchedules: string[] }> {
  const step = route.escalate[index] as RouteConfig['escalate'][number];
  const unknown: string[] = [];
  const unknownSchedules = new Set<string>();
  const members = async (entry: string) => {
    const name = SCHEDULE_REF.exec(entry)?.[1] as string;
    const answer = deps.oncall
      ? await deps.oncall.whoIsOnCall(name, now)
      : { ok: false as const, schedule: name, reason: `schedule ${name}: no on-call resolver` };
    // The resolver's reasons name their schedule ("schedule secondary unreadable") and never a URL.
    if (!answer.ok) {
      unknown.push(answer.reason);
      unknownSchedules.add(name);
      return [];
    }
    if (answer.members.length === 0) {
      unknown.push(`nobody is on call in schedule ${name}`);
      unknownSchedules.add(name);
    }
    return answer.members;
  };
  const emails: string[] = [];
  for (const entry of step.email) {
    if (entry === ONCALL) emails.push(deps.oncallEmail ?? PREVIEW_ONCALL);
    else if (SCHEDULE_REF.test(entry))
      emails.push(...(await members(entry)).flatMap((m) => (m.email ? [m.email] : [])));
    else emails.push(entry);
  }
  const mentions: string[] = [];
  for (const entry of step.mention) {
    if (SCHEDULE_REF.test(entry))
      mentions.push(...(await members(entry)).flatMap((m) => (m.slack ? [m.slack] : [])));
    else mentions.push(entry);
  }
  const added = deliveriesFor(
    [
      {
        ...route,
        name: `${route.name}/escalate-${index + 1}`,
        slack: step.slack,
        email: [...new Set(emails)],
        escalate: [],
      },
    ],
    deps.oncallEmail,
  );
  return {
    taken: {
      step: index,
      at: now,
      after: step.after,
      targets: [...step.slack, ...new Set(emails)],
      mentions: [...new Set(mentions)],
      unknown: [...new Set(unknown)],
    },
    added,
    unknownSchedules: [...unknownSchedules],
  };
}
