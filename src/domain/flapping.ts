/**
 * Flap control (issue 14, item 9), the pure rules. Each firing episode of a group stays a new incident
 * (DESIGN.md §Words: its own id, acknowledgement, ladder, console entry); what changes is where it is shown.
 * A group that resolved and fired again more than `count` times within `window` is flapping: its new
 * episode reuses the first episode's message (Slack: chat.update of that root and replies in its thread;
 * email: that thread) and shows the counter, instead of a new message per episode.
 */

export interface FlapPolicy {
  count: number;
  windowMs: number;
}

/** A firing episode of a group, as the workers record it (store/flap-store.ts). */
export interface Episode {
  incidentId: string;
  startedAt: number;
  resolvedAt?: number;
}

export interface FlapDecision {
  flapping: boolean;
  /** Firings of the group within the window, this episode included. */
  times: number;
  /** When the group last settled (the latest resolve of an earlier episode in the window). */
  lastSettledAt?: number;
  /** The episode whose message this one reuses: the earliest in the window that has a message of its own. */
  anchor?: string;
}

/** What a flapping episode's message shows, kept in its delivery log so every later render shows it too. */
export interface FlapShown {
  anchor: string;
  times: number;
  windowMs: number;
  lastSettledAt?: number;
}

/**
 * Whether `incident` is a flap of its group: the episodes that started within the window before it, this
 * one included, number more than `count` + 1 (it fired again more than `count` times). `ownMessages` are
 * the episodes that posted a message of their own to this destination; without one there is nothing to
 * reuse and the episode posts its own.
 */
export function decideFlapping(
  episodes: readonly Episode[],
  incident: { incidentId: string; startedAt: number },
  policy: FlapPolicy,
  ownMessages: ReadonlySet<string>,
): FlapDecision {
  const from = incident.startedAt - policy.windowMs;
  const earlier = episodes
    .filter(
      (e) => e.incidentId !== incident.incidentId && e.startedAt >= from && e.startedAt <= incident.startedAt,
    )
    .sort((a, b) => a.startedAt - b.startedAt);
  const times = earlier.length + 1;
  const settled = earlier.map((e) => e.resolvedAt).filter((t): t is number => t !== undefined);
  const lastSettledAt = settled.length ? Math.max(...settled) : undefined;
  const anchor = earlier.find((e) => ownMessages.has(e.incidentId))?.incidentId;
  const flapping = times - 1 > policy.count && anchor !== undefined;
  return {
    flapping,
    times,
    ...(lastSettledAt !== undefined ? { lastSettledAt } : {}),
    ...(flapping ? { anchor } : {}),
  };
}

/** "30 min", "2 h", "45 s": a window as people read it. */
export function formatWindow(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** "flapping: 5 times in 30 min". */
export function flapCounter(shown: Pick<FlapShown, 'times' | 'windowMs'>): string {
  return `flapping: ${shown.times} times in ${formatWindow(shown.windowMs)}`;
}
