/**
 * Who is on call (issue 12): the port the escalation ladder, the handoff digest and `npm run oncall` ask.
 * Schedules are YAML rotations or iCal calendars (src/oncall/); `schedule:NAME` in a step's `mention` or
 * `email` resolves through here at the moment the step is taken.
 */
export interface OnCallMember {
  name: string;
  /** Slack user id (U…), from configuration only: a mention is never built from alert labels. */
  slack?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
}

export type OnCallAnswer =
  | { ok: true; schedule: string; members: OnCallMember[]; since?: number; until?: number }
  /**
   * `reason` is a whole phrase that names the schedule ("schedule secondary unreadable", "no member named
   * "X" in schedule secondary", "nobody is on call in schedule secondary: …"): quote it as
   * `on-call unknown (${reason})`, without adding the schedule's name again.
   */
  | { ok: false; schedule: string; reason: string };

export interface OnCallResolver {
  /** The configured schedule names. */
  names(): string[];
  /** Who is on call in `schedule` at `at` (ms). Never throws: a failure is `{ok: false, reason}`. */
  whoIsOnCall(schedule: string, at: number): Promise<OnCallAnswer>;
  /** The first handoff of `schedule` strictly after `after` (ms), or undefined when none is known. */
  nextHandoff(schedule: string, after: number): Promise<number | undefined>;
}
