/**
 * The demo's captured payloads moved to now. Pure: the clock is passed in. Posted as captured, every
 * message would say the alerts fired days ago (a budget used 7221%).
 *
 * Each group moves as one, keeping its spacing (a vehicle joining 15 minutes later, a resolve 31 s after its
 * firing), so that its latest time lands just before the demo posts that group's last payload: a resolve
 * a few seconds before it is announced, as Alertmanager sends it; a firing that is the latest news a few
 * minutes before, as an alert rule's `for:` would have it.
 */

/** A still-firing group's latest start lands this long before it is posted. */
export const FIRING_LEAD_MS = 3 * 60_000;
/** A resolve's end lands this long before it is posted (Alertmanager's group_interval, roughly). */
export const RESOLVE_LEAD_MS = 5_000;

export interface DemoPayload {
  groupKey: string;
  alerts: { startsAt: string; endsAt: string }[];
}

/** Alertmanager sends year 1 for "not ended"; that one is kept. */
const isSet = (time: string) => !time.startsWith('0001-');

/** Every startsAt and endsAt moved by `shiftMs`. */
export function rebasePayload<T extends DemoPayload>(payload: T, shiftMs: number): T {
  const move = (time: string) => (isSet(time) ? new Date(Date.parse(time) + shiftMs).toISOString() : time);
  return {
    ...payload,
    alerts: payload.alerts.map((a) => ({ ...a, startsAt: move(a.startsAt), endsAt: move(a.endsAt) })),
  };
}

/** The shift of each group (by groupKey), given when each payload will be posted (`postAt`, ms). */
export function rebaseShifts(
  steps: readonly { payload: DemoPayload; postAt: number }[],
): Map<string, number> {
  const latest = new Map<string, { time: number; ended: boolean; postAt: number }>();
  for (const { payload, postAt } of steps) {
    const seen = latest.get(payload.groupKey) ?? { time: -Infinity, ended: false, postAt };
    for (const alert of payload.alerts) {
      const start = Date.parse(alert.startsAt);
      const end = isSet(alert.endsAt) ? Date.parse(alert.endsAt) : Number.NaN;
      if (start > seen.time) Object.assign(seen, { time: start, ended: false });
      if (end > seen.time) Object.assign(seen, { time: end, ended: true });
    }
    seen.postAt = Math.max(seen.postAt, postAt);
    latest.set(payload.groupKey, seen);
  }
  const shifts = new Map<string, number>();
  for (const [groupKey, { time, ended, postAt }] of latest)
    shifts.set(groupKey, postAt - (ended ? RESOLVE_LEAD_MS : FIRING_LEAD_MS) - time);
  return shifts;
}
