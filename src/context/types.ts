/**
 * Shapes shared by the context stage. The alert is structural on purpose: the pipeline's own
 * alert type is assignable to it, so this module does not depend on the rest of src/.
 */

export type AlertStatus = 'firing' | 'resolved';

export interface ContextAlert {
  status: AlertStatus;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** RFC 3339. */
  startsAt: string;
  /** RFC 3339; Alertmanager's `0001-01-01T00:00:00Z` while firing. Gives a resolved excursion its length. */
  endsAt?: string | undefined;
  fingerprint: string;
  generatorURL: string;
}

export type Severity = 'critical' | 'warning' | 'info';

export interface Driver {
  name: string;
  phone?: string | undefined;
}

/** A vehicle as the dispatch system knows it. */
export interface Vehicle {
  id: string;
  driver?: Driver | undefined;
  depot?: string | undefined;
  reeferUnit?: string | undefined;
  /** Shipments currently on board, used when the alert does not name one. */
  shipmentIds: string[];
}

export interface Shipment {
  id: string;
  customer: string;
  /** Key into the catalog's cargo classes. */
  cargoClass: string;
  description: string;
  /** ISO 8601 with offset. */
  eta?: string | undefined;
  origin?: string | undefined;
  destination?: string | undefined;
  vehicleId?: string | undefined;
}

/** Port to the dispatch system's asset data. `undefined` means "not known there", not "failed". */
export interface ContextProvider {
  getVehicle(id: string): Promise<Vehicle | undefined>;
  getShipment(id: string): Promise<Shipment | undefined>;
}

/** Port for caching lookups; values are opaque strings so any key-value store fits. */
export interface ContextCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
}

/** What the providers returned for one group of alerts. */
export interface AssetContext {
  vehicles: ReadonlyMap<string, Vehicle>;
  shipments: ReadonlyMap<string, Shipment>;
}

/** Why asset context is missing; low-cardinality so it can label a metric. */
export type UnavailableReason =
  | 'timeout'
  | 'deadline'
  | 'circuit-open'
  | 'http-error'
  | 'network'
  | 'invalid-response'
  | 'error';

export interface ResolvedAssetContext {
  assets: AssetContext;
  unavailable: boolean;
  /** Human-readable; present when `unavailable`. */
  reason?: string | undefined;
  reasonCode?: UnavailableReason | undefined;
}
