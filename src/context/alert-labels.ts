import type { ContextAlert } from './types.js';

/** The asset labels the cold-chain rules set; one place so every stage reads them the same way. */

function label(alert: ContextAlert, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = Object.hasOwn(alert.labels, name) ? alert.labels[name]?.trim() : undefined;
    if (value) return value;
  }
  return undefined;
}

export function alertnameOf(alert: ContextAlert): string | undefined {
  return label(alert, 'alertname');
}

export function vehicleIdOf(alert: ContextAlert): string | undefined {
  return label(alert, 'vehicle_id');
}

export function shipmentIdOf(alert: ContextAlert): string | undefined {
  return label(alert, 'shipment_id');
}

export function facilityOf(alert: ContextAlert): string | undefined {
  return label(alert, 'facility', 'depot');
}

export function zoneOf(alert: ContextAlert): string | undefined {
  return label(alert, 'zone', 'sensor');
}

/** Rules may label the cargo class directly; used when the shipment cannot be looked up. */
export function cargoClassOf(alert: ContextAlert): string | undefined {
  return label(alert, 'cargo_class');
}

/** Container alerts from cAdvisor name the container in one of these labels. */
export function containerNameOf(alert: ContextAlert): string | undefined {
  return label(alert, 'name', 'container', 'container_name');
}

export function hasAssetLabels(alert: ContextAlert): boolean {
  return vehicleIdOf(alert) !== undefined || shipmentIdOf(alert) !== undefined;
}

export function uniqueDefined(values: readonly (string | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => value !== undefined))];
}
