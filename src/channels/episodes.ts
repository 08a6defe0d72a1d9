/**
 * What a delivery's first message becomes (issue 14): its own message, a line in a storm digest
 * (domain/storm.ts), or an update of an earlier episode's message when its group is flapping
 * (domain/flapping.ts). Shared by the Slack and email deliverers; the decisions are kept in the delivery log
 * before anything is sent, so a retried job carries on with the same one.
 */
import { FLAPPING_DEFAULTS, type Policy, STORM_DEFAULTS } from '../config/config.js';
import { createDisplayClock } from '../domain/display-time.js';
import { decideFlapping, type FlapPolicy, type FlapShown } from '../domain/flapping.js';
import { acknowledgementCovers } from '../domain/plan.js';
import type { DigestMember, StormDecision, StormPolicy } from '../domain/storm.js';
import type { FlapStore, OwnMessage } from '../store/flap-store.js';
import type { StormStore } from '../store/storm-store.js';
import type { DeliveryRun } from './channel.js';

export interface EpisodeDeps {
  storms: StormStore;
  flaps: FlapStore;
  /** The storm and flapping policy of a delivery's route. */
  routePolicy(route: string): { storm: StormPolicy; flapping: FlapPolicy };
}

/** Route name → its `storm:` and `flapping:` (ms); routes escalation adds get the defaults. */
export function routePolicies(policy: Policy): EpisodeDeps['routePolicy'] {
  const byName = new Map(policy.routes.map((r) => [r.name, r]));
  return (name) => {
    const route = byName.get(name) ?? { storm: STORM_DEFAULTS, flapping: FLAPPING_DEFAULTS };
    return {
      storm: { threshold: route.storm.threshold, windowMs: route.storm.window * 1000 },
      flapping: { count: route.flapping.count, windowMs: route.flapping.window * 1000 },
    };
  };
}

/**
 * Records the episode's start and decides whether it flaps: then it reuses the earlier episode's message
 * to this destination. Undefined when it posts its own.
 */
export async function flapOf(
  r: DeliveryRun,
  deps: EpisodeDeps,
): Promise<(FlapShown & { message: OwnMessage }) | undefined> {
  const { groupId, incidentId, startedAt } = r.snapshot;
  await deps.flaps.recordEpisode(groupId, { incidentId, startedAt });
  const policy = deps.routePolicy(r.delivery.route).flapping;
  const { episodes, messages } = await deps.flaps.group(groupId, r.delivery.id);
  const decision = decideFlapping(episodes, { incidentId, startedAt }, policy, new Set(messages.keys()));
  const message = decision.anchor ? messages.get(decision.anchor) : undefined;
  if (!decision.flapping || !decision.anchor || !message) return undefined;
  return {
    anchor: decision.anchor,
    times: decision.times,
    windowMs: policy.windowMs,
    ...(decision.lastSettledAt !== undefined ? { lastSettledAt: decision.lastSettledAt } : {}),
    message,
  };
}

export function stormOf(r: DeliveryRun, deps: EpisodeDeps): Promise<StormDecision> {
  return deps.storms.decide(
    r.delivery.id,
    r.snapshot.incidentId,
    r.now,
    deps.routePolicy(r.delivery.route).storm,
  );
}

/** Decides once per delivery (kept in the log): flapping first (it posts nothing new), then the storm. */
export async function decideFirstMessage(r: DeliveryRun, deps: EpisodeDeps): Promise<void> {
  if (r.log.flap || r.log.storm || r.log.decided) return;
  const flap = await flapOf(r, deps);
  if (flap) r.log.flap = flap;
  else {
    const storm = await stormOf(r, deps);
    if (storm.kind === 'digest') r.log.storm = storm.stormId;
  }
  r.log.decided = true;
  await r.save();
}

/** The incident as a storm digest lists it. */
export function memberOf(r: DeliveryRun): DigestMember {
  const { snapshot, flags } = r;
  const vehicles = [
    ...new Set(
      (snapshot.commonLabels.vehicle_id
        ? [snapshot.commonLabels.vehicle_id]
        : snapshot.alerts.map((a) => a.labels.vehicle_id)
      ).filter((v): v is string => Boolean(v)),
    ),
  ];
  return {
    incidentId: snapshot.incidentId,
    title: r.view.title,
    severity: r.view.severity,
    ...(vehicles.length ? { vehicle: vehicles.join(', ') } : {}),
    state:
      snapshot.status === 'resolved'
        ? 'resolved'
        : acknowledgementCovers(flags, snapshot)
          ? 'acknowledged'
          : 'firing',
  };
}

/**
 * This episode posted its own first message: it stops counting as queued for the storm rule, and a later
 * flapping episode may reuse it.
 */
export async function recordOwnMessage(
  r: DeliveryRun,
  deps: EpisodeDeps,
  message: OwnMessage,
): Promise<void> {
  await deps.storms.markSent(r.delivery.id, r.snapshot.incidentId, deps.routePolicy(r.delivery.route).storm);
  await deps.flaps.recordOwnMessage(r.snapshot.groupId, r.delivery.id, r.snapshot.incidentId, message);
}

/** "21:03 UTC" in display_timezone (with the date when not on `now`'s day): when a group last settled. */
export function settledText(at: number, timeZone?: string, now = at): string {
  return createDisplayClock(timeZone, now).format(at);
}
