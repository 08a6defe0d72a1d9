/**
 * Routing (DESIGN.md §Routing): routes match the group's common labels, with the group's severity filled in
 * when it is not common; first match wins unless `continue: true`; no match → the fallback route.
 */
import { ONCALL, type Policy, type RouteConfig } from '../config/config.js';
import { formatDuration } from '../domain/duration.js';
import { matchesAll } from '../domain/matchers.js';
import { type DeliveryTarget, deliveryIdOf } from '../domain/model.js';

export interface RoutingResult {
  routes: RouteConfig[];
  /** True when no route matched and the fallback was used (counted as unrouted severity). */
  fallback: boolean;
}

export function selectRoutes(policy: Policy, labels: Record<string, string>): RoutingResult {
  const selected: RouteConfig[] = [];
  for (const route of policy.routes) {
    if (!matchesAll(route.matchers, labels)) continue;
    selected.push(route);
    if (!route.continue) break;
  }
  if (selected.length > 0) return { routes: selected, fallback: false };
  const fallback = policy.routes.find((r) => r.name === policy.fallback_route);
  return { routes: fallback ? [fallback] : [], fallback: true };
}

/**
 * An address for the on-call list when none is configured: only reachable in preview mode, since config
 * refuses SMTP without RELAY_ONCALL_EMAIL.
 */
export const PREVIEW_ONCALL = 'oncall@preview.invalid';

/**
 * Delivery ids are hashes of a destination, and the destinations come from the policy, so the set is small
 * and fixed: hashing each once saves two SHA-256 per new incident.
 */
const deliveryIds = new Map<string, string>();
function cachedDeliveryId(kind: DeliveryTarget['kind'], target: string): string {
  const key = `${kind}\u0000${target}`;
  let id = deliveryIds.get(key);
  if (id === undefined) {
    id = deliveryIdOf(kind, target);
    deliveryIds.set(key, id);
  }
  return id;
}

/** The destinations of the selected routes; a destination reached by two routes keeps the shorter repeat. */
export function deliveriesFor(
  routes: readonly RouteConfig[],
  oncallEmail: string | undefined,
): DeliveryTarget[] {
  const byId = new Map<string, DeliveryTarget>();
  const add = (kind: DeliveryTarget['kind'], target: string, route: RouteConfig) => {
    const id = cachedDeliveryId(kind, target);
    const existing = byId.get(id);
    const repeat = route.repeat;
    if (existing) {
      const shorter = repeat > 0 && (existing.repeatSeconds === 0 || repeat < existing.repeatSeconds);
      if (shorter) existing.repeatSeconds = repeat;
      return;
    }
    byId.set(id, {
      id,
      kind,
      target,
      route: route.name,
      repeatSeconds: repeat,
      broadcastReminders: route.broadcast_reminders,
    });
  };
  for (const route of routes) {
    for (const channel of route.slack) add('slack', channel, route);
    if (route.email.length > 0) {
      const addresses = route.email.map((a) => (a === ONCALL ? (oncallEmail ?? PREVIEW_ONCALL) : a));
      add('email', [...new Set(addresses)].join(','), route);
    }
  }
  return [...byId.values()];
}

/** A printable routing table for `npm run check-config`. */
export function describeRoutingTable(policy: Policy, oncallEmail: string | undefined): string {
  const lines = [
    '#  route      matchers                               slack                    email                    repeat',
  ];
  policy.routes.forEach((route, i) => {
    const email = route.email.map((a) =>
      a === ONCALL ? `oncall(${oncallEmail ?? 'RELAY_ONCALL_EMAIL unset'})` : a,
    );
    const repeat = formatDuration(route.repeat);
    lines.push(
      [
        String(i + 1).padEnd(2),
        route.name.padEnd(10),
        (route.matchers.map((m) => m.text).join(', ') || '(everything)').padEnd(38),
        (route.slack.join(', ') || '-').padEnd(24),
        (email.join(', ') || '-').padEnd(24),
        repeat + (route.continue ? ' (continue)' : ''),
      ].join(' '),
    );
  });
  lines.push(`unmatched groups go to route "${policy.fallback_route}" (counted as unrouted severity)`);
  return lines.join('\n');
}
