/**
 * The demo's captured payloads moved to now. Pure: `now` is passed in. Only times move; their spacing (a
 * vehicle joining, a resolve 31 s later) is what the demo shows.
 */

/** The latest captured time lands this long before now: recent, and the reefer's budget partly used. */
export const LATEST_AGO_MS = 3 * 60_000;

export interface DemoPayload {
  groupKey: string;
  alerts: { startsAt: string; endsAt: string }[];
}

/** Alertmanager sends year 1 for "not ended"; that one is kept. */
const isSet = (time: string) => !time.startsWith('0001-');

/** Every startsAt and endsAt moved by `shiftMs` (the spacing between them is what the demo shows). */
export function rebasePayload<T extends DemoPayload>(payload: T, shiftMs: number): T {
  const move = (time: string) => (isSet(time) ? new Date(Date.parse(time) + shiftMs).toISOString() : time);
  return {
    ...payload,
    alerts: payload.alerts.map((a) => ({ ...a, startsAt: move(a.startsAt), endsAt: move(a.endsAt) })),
  };
}

/** The shift that puts the latest time of all payloads `LATEST_AGO_MS` before `now`. */
export function rebaseShift(payloads: readonly DemoPayload[], now: number): number {
  const times = payloads.flatMap((p) =>
    p.alerts.flatMap((a) => [a.startsAt, a.endsAt].filter(isSet).map(Date.parse)),
  );
  return now - LATEST_AGO_MS - Math.max(...times);
}
