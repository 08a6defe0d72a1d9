import { z } from 'zod';

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Parses Prometheus-style durations ("30s", "5m", "1h30m", "250ms") into seconds; "never" and "0" mean 0. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === 'never' || trimmed === '0') return 0;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_SECONDS[p[2] as string] ?? 0), 0);
}

/** A duration in YAML: a string like "5m" or a number of seconds; parsed to seconds. */
export const durationSchema = z.union([z.number().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const seconds = parseDuration(value);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 30s, 5m, 1h, never)` });
    return z.NEVER;
  }
  return seconds;
});

/**
 * A duration in the policy's own notation ("1h5m", "never"), the inverse of parseDuration: for showing
 * configured values (the routing table, check-config). Durations shown to people in messages are
 * formatElapsed's.
 */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return 'never';
  const units: [number, string][] = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'm'],
    [1, 's'],
  ];
  let rest = Math.round(seconds);
  let out = '';
  for (const [size, unit] of units) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out || `${seconds}s`;
}

/**
 * How long something has lasted, for people ("19m", "1h 5m", "30h", "2d", "2d 3h"): the one formatter of the
 * messages, the context lines and the buttons. Whole minutes, to the nearest or rounded down.
 */
export function formatElapsed(ms: number, round: 'nearest' | 'down' = 'nearest'): string {
  const exact = Math.max(0, ms / 60000);
  const minutes = round === 'down' ? Math.floor(exact) : Math.round(exact);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${minutes % 60 ? ` ${minutes % 60}m` : ''}`;
  return `${Math.floor(hours / 24)}d${hours % 24 ? ` ${hours % 24}h` : ''}`;
}
