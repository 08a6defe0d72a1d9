/**
 * Storm digest (issue 14, item 8), the pure rules. A destination that would queue more than `threshold`
 * NEW incidents within `window` behind Slack's pace gets one digest message instead: the incidents past the
 * threshold are folded into it (listed there with severity, vehicle and state) while the storm is open.
 * "Queued" is counted as it happens: a first message decided within the window and not sent yet. A quiet
 * channel that gets six incidents over ten seconds, each posted before the next arrives, has no storm; six
 * at once do (the sixth would wait five slots). The
 * store (store/storm-store.ts) applies these functions under compare-and-set, so every worker and replica
 * sees the same decision; a decision, once taken for an incident, never changes (a retried job gets it back).
 */

export interface StormPolicy {
  threshold: number;
  windowMs: number;
}

export interface StormArrival {
  incidentId: string;
  at: number;
  /** The storm it was folded into; absent when it posts its own message. */
  storm?: string;
  /** Its own first message went out: it no longer waits in the queue. */
  sent?: boolean;
}

/** Per destination: the recent first posts, and the storm open now, if any. */
export interface StormWindow {
  arrivals: StormArrival[];
  open?: { id: string; until: number };
}

export type StormDecision = { kind: 'own' } | { kind: 'digest'; stormId: string; opened: boolean };

/**
 * Arrivals are kept this long (at least): a job retried after its window still finds the decision it was
 * given (a crash between the decision and the delivery log's write), instead of deciding anew.
 */
export const ARRIVAL_MEMORY_MS = 10 * 60_000;

export const EMPTY_WINDOW: StormWindow = { arrivals: [] };

/**
 * Whether `incidentId`'s first message goes out on its own or into the storm's digest. A storm opens when
 * the arrivals within the window, this one included, exceed the threshold, and stays open while incidents
 * keep arriving within a window of the last; `newStormId` names a storm this call opens.
 */
export function joinStorm(
  window: StormWindow,
  incidentId: string,
  now: number,
  policy: StormPolicy,
  newStormId: string,
): { decision: StormDecision; window: StormWindow } {
  const known = window.arrivals.find((a) => a.incidentId === incidentId);
  if (known)
    return {
      decision: known.storm ? { kind: 'digest', stormId: known.storm, opened: false } : { kind: 'own' },
      window,
    };
  const kept = window.arrivals.filter((a) => a.at >= now - Math.max(policy.windowMs, ARRIVAL_MEMORY_MS));
  const queued = kept.filter((a) => a.at >= now - policy.windowMs && !a.sent && !a.storm).length + 1;
  const open = window.open && window.open.until >= now ? window.open : undefined;
  if (!open && queued <= policy.threshold)
    return { decision: { kind: 'own' }, window: { arrivals: [...kept, { incidentId, at: now }] } };
  const stormId = open?.id ?? newStormId;
  return {
    decision: { kind: 'digest', stormId, opened: !open },
    window: {
      arrivals: [...kept, { incidentId, at: now, storm: stormId }],
      open: { id: stormId, until: now + policy.windowMs },
    },
  };
}

/** An incident's own first message went out: it stops counting as queued. */
export function markSent(window: StormWindow, incidentId: string): StormWindow {
  const index = window.arrivals.findIndex((a) => a.incidentId === incidentId && !a.sent);
  if (index < 0) return window;
  const arrivals = [...window.arrivals];
  arrivals[index] = { ...arrivals[index]!, sent: true };
  return { ...window, arrivals };
}

export type MemberState = 'firing' | 'acknowledged' | 'resolved';

/** One incident as the digest lists it. */
export interface DigestMember {
  incidentId: string;
  title: string;
  severity: string;
  /** The vehicle(s) the incident is about (vehicle_id label), when it names any. */
  vehicle?: string | undefined;
  state: MemberState;
}

/** What a digest was last published as: where it is, and what it showed then. */
export interface DigestPublished {
  version: number;
  /** Slack: the channel id and ts of the digest message. */
  channel?: string;
  ts?: string;
  /** Email: the digest mail's Message-ID and subject, and every Message-ID of its thread. */
  messageId?: string;
  subject?: string;
  references?: string[];
  /** Email: each member's state as last mailed, so an update mail tells only what changed. */
  told?: Record<string, MemberState>;
}

export interface StormDigest {
  id: string;
  openedAt: number;
  /** Bumped by every change to `members`: the digest is current when `published.version` reaches it. */
  version: number;
  members: DigestMember[];
  published?: DigestPublished;
  /** A post whose answer was lost: the next attempt looks for it before posting again (Slack). */
  inFlight?: { at: number };
}

export function newDigest(id: string, openedAt: number): StormDigest {
  return { id, openedAt, version: 0, members: [] };
}

/** The digest with `member` added or brought up to date; the same digest when nothing changed. */
export function withMember(digest: StormDigest, member: DigestMember): StormDigest {
  const index = digest.members.findIndex((m) => m.incidentId === member.incidentId);
  const current = digest.members[index];
  if (current && JSON.stringify(current) === JSON.stringify(member)) return digest;
  // A resolved incident stays resolved in the digest: a lagging job's older "firing" cannot re-open it.
  if (current?.state === 'resolved' && member.state !== 'resolved') return digest;
  const members = [...digest.members];
  if (current) members[index] = member;
  else members.push(member);
  return { ...digest, members, version: digest.version + 1 };
}

export function isPublished(digest: StormDigest, version: number): boolean {
  return digest.published !== undefined && digest.published.version >= version;
}

export function countStates(members: readonly DigestMember[]): Record<MemberState, number> {
  const counts: Record<MemberState, number> = { firing: 0, acknowledged: 0, resolved: 0 };
  for (const m of members) counts[m.state]++;
  return counts;
}

/** Members whose state differs from what the last mail told (new ones included), for an update mail. */
export function changedSince(
  members: readonly DigestMember[],
  told: Record<string, MemberState> | undefined,
): DigestMember[] {
  return members.filter((m) => told?.[m.incidentId] !== m.state);
}
