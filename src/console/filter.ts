/**
 * The incident list's filter from the console's form (GET /?status=…&severity=…). A browser submits every
 * field, the empty ones included ("any"), so empty means absent here; anything else is checked as the list
 * API checks it, and a bad value is a 400 page naming the parameter.
 */
import type { IncidentListFilter, IncidentListStatus } from '../incidents/types.js';

const STATUSES: readonly IncidentListStatus[] = ['firing', 'resolved', 'acknowledged', 'silenced'];
const KNOWN = ['status', 'severity', 'vehicle', 'shipment', 'cursor', 'limit'] as const;
const MAX_LENGTH: Record<(typeof KNOWN)[number], number> = {
  status: 16,
  severity: 64,
  vehicle: 128,
  shipment: 128,
  cursor: 400,
  limit: 3,
};
export const CONSOLE_PAGE_SIZE = 50;

export type FilterResult = { ok: true; filter: IncidentListFilter } | { ok: false; message: string };

export function parseConsoleFilter(query: Record<string, string>): FilterResult {
  const unknown = Object.keys(query).filter((k) => !(KNOWN as readonly string[]).includes(k));
  if (unknown.length)
    return {
      ok: false,
      message: `unknown filter ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}; known: ${KNOWN.join(', ')}`,
    };
  const value = (name: (typeof KNOWN)[number]): string | undefined => {
    const v = query[name]?.trim();
    return v ? v : undefined;
  };
  for (const name of KNOWN) {
    const v = value(name);
    if (v !== undefined && v.length > MAX_LENGTH[name])
      return { ok: false, message: `${name}: at most ${MAX_LENGTH[name]} characters` };
  }
  const status = value('status');
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status))
    return { ok: false, message: `status: must be one of ${STATUSES.join(', ')} (or empty for any)` };
  const limitText = value('limit');
  const limit = limitText === undefined ? CONSOLE_PAGE_SIZE : Number(limitText);
  if (!/^\d*$/.test(limitText ?? '') || !Number.isInteger(limit) || limit < 1 || limit > 200)
    return { ok: false, message: 'limit: must be a whole number from 1 to 200' };
  return {
    ok: true,
    filter: {
      status: status as IncidentListStatus | undefined,
      severity: value('severity'),
      vehicle: value('vehicle'),
      shipment: value('shipment'),
      cursor: value('cursor'),
      limit,
    },
  };
}
