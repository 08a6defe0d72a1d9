/**
 * Who is on call, for people: the text `npm run oncall` and `check-config` print for a schedule. Times are
 * shown in the schedule's zone and in UTC, since a handoff is written in one and logs speak the other.
 */
import { formatInZone } from './local-time.js';
import { isCalendarUrl, type Schedule, type Schedules } from './schema.js';
import type { OnCallMember, OnCallResolver } from './types.js';

/** One line: what kind of schedule this is. A calendar URL shows only its host: the rest may be a secret. */
export function describeScheduleKind(schedule: Schedule): string {
  const members = `${schedule.members.length} member${schedule.members.length === 1 ? '' : 's'}`;
  if (schedule.kind === 'rotation') {
    const when =
      schedule.rotation === 'weekly' ? `${schedule.handoff_day} ${schedule.handoff}` : schedule.handoff;
    return `${schedule.rotation} rotation, handoff ${when} ${schedule.timezone}, ${members}${schedule.overrides.length ? `, ${schedule.overrides.length} override(s)` : ''}`;
  }
  const source = isCalendarUrl(schedule.ical)
    ? `iCal URL on ${new URL(schedule.ical).host}`
    : `iCal file ${schedule.ical}`;
  return `${source}, ${members}, times shown in ${schedule.timezone}`;
}

function describeInstant(at: number, timeZone: string): string {
  const utc = formatInZone(at, 'UTC').replace(/ \+00:00$/, ' UTC');
  return timeZone === 'UTC' ? utc : `${formatInZone(at, timeZone)} ${timeZone} (${utc})`;
}

function describeMember(member: OnCallMember): string {
  const contacts = [
    member.slack && `Slack <@${member.slack}>`,
    member.email && `email ${member.email}`,
    member.phone && `phone ${member.phone}`,
  ].filter(Boolean);
  return contacts.length ? `${member.name} — ${contacts.join(', ')}` : member.name;
}

/**
 * Asks `resolver` who is on call in `name` at `at`, when the shift began and ends, and who takes over at the
 * next handoff. `ok` is false when the schedule could not name anyone at `at`.
 */
export async function describeOnCall(
  resolver: OnCallResolver,
  name: string,
  schedule: Schedule,
  at: number,
): Promise<{ ok: boolean; text: string }> {
  const zone = schedule.timezone;
  const lines = [`${name}: ${describeScheduleKind(schedule)}`, `  at       ${describeInstant(at, zone)}`];
  const answer = await resolver.whoIsOnCall(name, at);
  if (answer.ok) {
    answer.members.forEach((member, i) => {
      lines.push(`  ${i === 0 ? 'on call ' : '        '} ${describeMember(member)}`);
    });
    if (answer.since !== undefined) lines.push(`  since    ${describeInstant(answer.since, zone)}`);
  } else {
    lines.push(`  on call  unknown: ${answer.reason}`);
  }
  // A shift ends at the next handoff (rotations and calendars alike), so `until` is printed once, here.
  const next = await resolver.nextHandoff(name, at);
  if (next === undefined) {
    lines.push('  until    no later handoff known');
  } else {
    const incoming = await resolver.whoIsOnCall(name, next);
    const then = incoming.ok
      ? `to ${incoming.members.map((m) => m.name).join(', ')}`
      : `after which on-call is unknown: ${incoming.reason}`;
    lines.push(`  until    ${describeInstant(next, zone)}, the next handoff, ${then}`);
  }
  return { ok: answer.ok, text: lines.join('\n') };
}

/**
 * `describeOnCall` for each of `names` (default: every schedule). With `offline`, calendar URLs are not
 * fetched (check-config without --online touches no network) and say so instead.
 */
export async function describeSchedules(
  resolver: OnCallResolver,
  schedules: Schedules,
  at: number,
  options: { names?: string[]; offline?: boolean } = {},
): Promise<{ ok: boolean; text: string }> {
  let ok = true;
  const blocks: string[] = [];
  for (const name of options.names ?? Object.keys(schedules)) {
    const schedule = schedules[name]!;
    if (options.offline && schedule.kind === 'ical' && isCalendarUrl(schedule.ical)) {
      blocks.push(
        `${name}: ${describeScheduleKind(schedule)}\n  fetched at run time (--online fetches it now)`,
      );
      continue;
    }
    const described = await describeOnCall(resolver, name, schedule, at);
    ok &&= described.ok;
    blocks.push(described.text);
  }
  return { ok, text: blocks.join('\n\n') };
}
