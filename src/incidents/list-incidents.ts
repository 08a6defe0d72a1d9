/**
 * GET /api/incidents: pages through the incident index newest first, reads each incident's snapshot, flags,
 * delivery logs and cold-chain facts, and keeps those the filter matches. Filters apply here, while paging,
 * so a page holds `limit` matching items whenever that many exist within the scan bound.
 */
import { incidentDestinations } from '../domain/destinations.js';
import type { AlertStore } from '../store/alert-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import {
  type IncidentIndex,
  type IncidentRef,
  type IndexPosition,
  indexMember,
} from '../store/incident-index.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { buildListItem, type IncidentRecord, matchesFilter, needsOnlyOpen } from './list-item.js';
import type { IncidentListFilter, IncidentListItem, IncidentListPage } from './types.js';

export interface ListIncidentsDeps {
  index: IncidentIndex;
  alerts: AlertStore;
  deliveries: DeliveryStore;
  now?: () => number;
}

/**
 * Index entries one request reads at most. Each costs a few Redis reads (snapshot, flags, cold chain, one log
 * per destination), so a filter matching nothing among 10,000 incidents answers after 1,000 with a cursor
 * to go on from, instead of holding the connection. Such a page may hold fewer than `limit` items.
 */
export const MAX_SCAN = 1000;
/** Index entries read and loaded together (in parallel): enough for a page, not much more. */
const BATCH = 50;

/** A cursor the caller sent that cannot be decoded (the route answers 400 with the message). */
export class InvalidCursorError extends Error {}

/** Everything stored about one indexed incident; undefined when its snapshot expired before its entry. */
export async function loadIncidentRecord(
  ref: Pick<IncidentRef, 'groupId' | 'incidentId'>,
  deps: Pick<ListIncidentsDeps, 'alerts' | 'deliveries'>,
): Promise<IncidentRecord | undefined> {
  const { groupId, incidentId } = ref;
  const [snapshot, flags, coldChain] = await Promise.all([
    deps.alerts.loadIncident(groupId, incidentId),
    deps.deliveries.loadFlags(groupId, incidentId),
    deps.deliveries.loadColdChain(groupId, incidentId),
  ]);
  if (!snapshot) return undefined;
  const targets = incidentDestinations(snapshot, flags);
  const logs = await Promise.all(targets.map((t) => deps.deliveries.loadLog(groupId, incidentId, t.id)));
  return {
    snapshot,
    flags,
    coldChain,
    deliveries: targets.map((target, i) => ({ target, log: logs[i]! })),
  };
}

export async function listIncidents(
  filter: IncidentListFilter,
  deps: ListIncidentsDeps,
): Promise<IncidentListPage> {
  const now = (deps.now ?? Date.now)();
  let after: IndexPosition | undefined;
  if (filter.cursor !== undefined) {
    const decoded = decodeCursor(filter.cursor);
    if (!decoded.ok) throw new InvalidCursorError(decoded.message);
    after = decoded.position;
  }
  const open = needsOnlyOpen(filter.status);
  const items: IncidentListItem[] = [];
  let scanned = 0;
  for (;;) {
    const want = Math.min(BATCH, MAX_SCAN - scanned);
    const refs = await deps.index.newest({ open, limit: want, ...(after ? { after } : {}) });
    const records = await Promise.all(refs.map((ref) => loadIncidentRecord(ref, deps)));
    for (const [i, ref] of refs.entries()) {
      after = { startedAt: ref.startedAt, member: indexMember(ref.groupId, ref.incidentId) };
      scanned++;
      const record = records[i];
      if (!record) continue;
      const item = buildListItem(record, now);
      if (!matchesFilter(item, filter)) continue;
      items.push(item);
      if (items.length === filter.limit) {
        const atEnd = i === refs.length - 1 && refs.length < want;
        // The cursor is this item's position: entries read past it are read again by the next page.
        return atEnd ? { items } : { items, nextCursor: encodeCursor(after) };
      }
    }
    if (refs.length < want) return { items };
    if (scanned >= MAX_SCAN) return { items, ...(after ? { nextCursor: encodeCursor(after) } : {}) };
  }
}
