/**
 * Where an iCal schedule's calendar comes from: a file, read once at start (an unreadable one is a ConfigError
 * there, see checkCalendarFiles), or an https URL, fetched when first needed and again after `refresh`.
 * A URL that fails keeps serving its last good copy for up to MAX_STALE_MS, so a calendar server's blip
 * does not blind the escalation ladder; past that, or before any good copy, the schedule is unreadable.
 * The URL is never logged: a private calendar link carries its secret in it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Calendar } from './calendar.js';
import { type CalendarSchedule, isCalendarUrl, type Schedules } from './schema.js';

/** How long a last good copy of a failing URL calendar is still used. */
export const MAX_STALE_MS = 24 * 3600_000;
/** After a failed fetch, the next attempt waits this long (or `refresh`, when shorter). */
export const RETRY_AFTER_MS = 30_000;
/** A calendar larger than this is refused: on-call calendars are kilobytes. */
const MAX_CALENDAR_BYTES = 5 * 1024 * 1024;

export interface CalendarSource {
  /** The calendar to answer from, or undefined when it is unreadable. Never throws. */
  current(): Promise<Calendar | undefined>;
}

export interface UrlSourceOptions {
  fetch: typeof fetch;
  now: () => number;
  timeoutMs: number;
  /** Called once per failed fetch, with a reason that does not contain the URL. */
  onFailure: (reason: string) => void;
}

/** Reads and parses a calendar file; throws an Error whose message says why it is unusable. */
export function readCalendarFile(path: string, timezone: string): Calendar {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(
      `${path}: cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  try {
    return new Calendar(text, timezone);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

/**
 * Every iCal file the schedules name, read and parsed: `{keyPath, reason}` per unusable one (URLs are not
 * fetched: start-up checks do no network I/O). Relative paths are read from `baseDir`.
 */
export function checkCalendarFiles(
  schedules: Schedules,
  baseDir: string,
): { keyPath: string; reason: string }[] {
  const problems: { keyPath: string; reason: string }[] = [];
  for (const [name, schedule] of Object.entries(schedules)) {
    if (schedule.kind !== 'ical' || isCalendarUrl(schedule.ical)) continue;
    try {
      readCalendarFile(resolve(baseDir, schedule.ical), schedule.timezone);
    } catch (error) {
      problems.push({ keyPath: `schedules.${name}.ical`, reason: (error as Error).message });
    }
  }
  return problems;
}

export function fileCalendarSource(schedule: CalendarSchedule, baseDir: string): CalendarSource {
  const calendar = readCalendarFile(resolve(baseDir, schedule.ical), schedule.timezone);
  return { current: async () => calendar };
}

/** Why a download failed, without the URL: undici says only "fetch failed" and keeps the reason in `cause`. */
function describeFetchError(error: Error, timeoutMs: number): string {
  if (error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? `${error.message} (${code})` : error.message;
}

export function urlCalendarSource(schedule: CalendarSchedule, options: UrlSourceOptions): CalendarSource {
  const refreshMs = schedule.refresh * 1000;
  let good: { calendar: Calendar; fetchedAt: number } | undefined;
  let failedAt: number | undefined;
  let inFlight: Promise<void> | undefined;

  async function download(): Promise<void> {
    try {
      const response = await options.fetch(schedule.ical, {
        headers: { accept: 'text/calendar' },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      if (Number(response.headers.get('content-length')) > MAX_CALENDAR_BYTES)
        throw new Error(`larger than ${MAX_CALENDAR_BYTES} bytes`);
      const text = await response.text();
      if (text.length > MAX_CALENDAR_BYTES) throw new Error(`larger than ${MAX_CALENDAR_BYTES} bytes`);
      good = { calendar: new Calendar(text, schedule.timezone), fetchedAt: options.now() };
      failedAt = undefined;
    } catch (error) {
      failedAt = options.now();
      options.onFailure(describeFetchError(error as Error, options.timeoutMs));
    }
  }

  return {
    async current() {
      const now = options.now();
      const fresh = good !== undefined && now - good.fetchedAt < refreshMs;
      const waiting = failedAt !== undefined && now - failedAt < Math.min(RETRY_AFTER_MS, refreshMs);
      if (!fresh && !waiting) {
        // Concurrent askers share one download.
        inFlight ??= download().finally(() => {
          inFlight = undefined;
        });
        await inFlight;
      }
      return good && options.now() - good.fetchedAt <= MAX_STALE_MS ? good.calendar : undefined;
    },
  };
}
