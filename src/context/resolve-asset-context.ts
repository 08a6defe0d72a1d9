import { shipmentIdOf, uniqueDefined, vehicleIdOf } from './alert-labels.js';
import { describeError } from './config-file.js';
import { ContextLookupError } from './context-lookup-error.js';
import type {
  ContextAlert,
  ContextProvider,
  ResolvedAssetContext,
  Shipment,
  UnavailableReason,
  Vehicle,
} from './types.js';

export interface ResolveAssetContextOptions {
  /** Overall budget for every lookup of the group; past it, whatever arrived is used. */
  deadlineMs?: number;
  /** Called once per unavailable result, e.g. to increment `relay_context_unavailable_total{reason}`. */
  onUnavailable?: (reason: UnavailableReason, detail: string) => void;
}

export const EMPTY_ASSET_CONTEXT: ResolvedAssetContext['assets'] = {
  vehicles: new Map(),
  shipments: new Map(),
};

/**
 * Looks up the vehicles and shipments the alerts name. Never throws and never waits past the
 * deadline: context makes a notification better, its absence must not delay or drop it.
 * Partial answers are kept; `unavailable` says some of the context is missing and why.
 */
export async function resolveAssetContext(
  alerts: readonly ContextAlert[],
  provider: ContextProvider,
  options: ResolveAssetContextOptions = {},
): Promise<ResolvedAssetContext> {
  const deadlineMs = options.deadlineMs ?? 1000;
  const vehicles = new Map<string, Vehicle>();
  const shipments = new Map<string, Shipment>();
  const failures: ContextLookupError[] = [];

  const settle = async <T>(
    lookup: () => Promise<T | undefined>,
    store: (value: T) => void,
  ): Promise<void> => {
    try {
      const value = await lookup();
      if (value !== undefined) store(value);
    } catch (error: unknown) {
      failures.push(
        error instanceof ContextLookupError
          ? error
          : new ContextLookupError('error', describeError(error), { cause: error }),
      );
    }
  };

  const lookUpAll = async (): Promise<void> => {
    const getShipment = (id: string): Promise<void> =>
      settle(
        () => provider.getShipment(id),
        (shipment) => shipments.set(id, shipment),
      );
    // Shipments named by the alerts are fetched alongside the vehicles; only the ones an alert
    // reaches through its vehicle's load have to wait for the vehicle.
    const namedShipmentIds = uniqueDefined(alerts.map(shipmentIdOf));
    const vehicleIds = uniqueDefined(alerts.map(vehicleIdOf));
    await Promise.all([
      ...vehicleIds.map((id) =>
        settle(
          () => provider.getVehicle(id),
          (vehicle) => vehicles.set(id, vehicle),
        ),
      ),
      ...namedShipmentIds.map(getShipment),
    ]);
    const carriedShipmentIds = uniqueDefined(
      alerts.flatMap((alert) => {
        const vehicleId = vehicleIdOf(alert);
        if (shipmentIdOf(alert) !== undefined || vehicleId === undefined) return [];
        return vehicles.get(vehicleId)?.shipmentIds ?? [];
      }),
    ).filter((id) => !namedShipmentIds.includes(id));
    await Promise.all(carriedShipmentIds.map(getShipment));
  };

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(resolve, deadlineMs, 'deadline');
  });
  let outcome: 'done' | 'deadline';
  try {
    outcome = await Promise.race([lookUpAll().then(() => 'done' as const), deadline]);
  } finally {
    clearTimeout(timer);
  }

  // Copies: lookups still in flight after the deadline must not change what the caller holds.
  const assets = { vehicles: new Map(vehicles), shipments: new Map(shipments) };
  const failure =
    failures[0] ??
    (outcome === 'deadline'
      ? new ContextLookupError('deadline', `context lookups did not finish within ${deadlineMs} ms`)
      : undefined);
  if (failure === undefined) return { assets, unavailable: false };

  const others = failures.length - 1;
  const reason =
    failure.message + (others > 0 ? ` (and ${others} more failed lookup${others === 1 ? '' : 's'})` : '');
  try {
    options.onUnavailable?.(failure.code, reason);
  } catch {
    // A broken metrics hook is not a reason to lose the context we have.
  }
  return { assets, unavailable: true, reason, reasonCode: failure.code };
}
