/**
 * The list's cursor: opaque to clients, base64url of the index position of the last item a page covered
 * (its start time and index member). Parsed strictly, so a mangled cursor is a 400 naming what is wrong
 * rather than a silently different page.
 */
import type { IndexPosition } from '../store/incident-index.js';

/** An index member: `{groupId}/{incidentId}`. */
const MEMBER = /^[\w-]{1,64}\/[\w-]{1,64}$/;
const BASE64URL = /^[A-Za-z0-9_-]{1,400}$/;

export function encodeCursor(position: IndexPosition): string {
  return Buffer.from(JSON.stringify([position.startedAt, position.member]), 'utf8').toString('base64url');
}

export type CursorResult = { ok: true; position: IndexPosition } | { ok: false; message: string };

export function decodeCursor(cursor: string): CursorResult {
  const invalid = (why: string): CursorResult => ({
    ok: false,
    message: `cursor is not one this API returned (${why}); pass nextCursor from the previous page as is`,
  });
  if (!BASE64URL.test(cursor)) return invalid('not base64url');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return invalid('not JSON inside');
  }
  if (!Array.isArray(value) || value.length !== 2) return invalid('not a position');
  const [startedAt, member] = value as unknown[];
  if (typeof startedAt !== 'number' || !Number.isSafeInteger(startedAt) || startedAt < 0)
    return invalid('bad start time');
  if (typeof member !== 'string' || !MEMBER.test(member)) return invalid('bad incident reference');
  return { ok: true, position: { startedAt, member } };
}
