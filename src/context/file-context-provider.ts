import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadYamlConfig } from './config-file.js';
import { fileShipmentSchema, fileVehicleSchema } from './fleet-schema.js';
import type { ContextProvider, Shipment, Vehicle } from './types.js';

// Two levels up from both src/context/ and dist/context/ is the repository root.
export const DEFAULT_FLEET_PATH = fileURLToPath(new URL('../../config/fleet.yaml', import.meta.url));

export interface Fleet {
  vehicles: ReadonlyMap<string, Vehicle>;
  shipments: ReadonlyMap<string, Shipment>;
}

const fleetSchema = z
  .strictObject({
    vehicles: z.array(fileVehicleSchema),
    shipments: z.array(fileShipmentSchema),
  })
  .superRefine((fleet, ctx) => {
    const duplicates = (items: { id: string }[], key: 'shipments' | 'vehicles', noun: string) => {
      const seen = new Set<string>();
      items.forEach((item, index) => {
        if (seen.has(item.id)) {
          ctx.addIssue({
            code: 'custom',
            path: [key, index, 'id'],
            message: `duplicate ${noun} id "${item.id}"`,
          });
        }
        seen.add(item.id);
      });
      return seen;
    };
    const shipmentIds = duplicates(fleet.shipments, 'shipments', 'shipment');
    duplicates(fleet.vehicles, 'vehicles', 'vehicle');
    fleet.vehicles.forEach((vehicle, index) => {
      vehicle.shipmentIds.forEach((id, shipmentIndex) => {
        if (!shipmentIds.has(id)) {
          ctx.addIssue({
            code: 'custom',
            path: ['vehicles', index, 'shipment_ids', shipmentIndex],
            message: `unknown shipment "${id}"`,
          });
        }
      });
    });
  })
  .transform(
    (fleet): Fleet => ({
      vehicles: new Map(fleet.vehicles.map((vehicle) => [vehicle.id, vehicle])),
      shipments: new Map(fleet.shipments.map((shipment) => [shipment.id, shipment])),
    }),
  );

/** Loads and validates a fleet file; throws ConfigFileError (`file: path.to.key: reason`). */
export function loadFleet(path: string = DEFAULT_FLEET_PATH): Fleet {
  return loadYamlConfig(path, fleetSchema);
}

/** Asset context from a static fleet file: for development, preview mode and tests. */
export class FileContextProvider implements ContextProvider {
  constructor(private readonly fleet: Fleet) {}

  static fromFile(path: string = DEFAULT_FLEET_PATH): FileContextProvider {
    return new FileContextProvider(loadFleet(path));
  }

  async getVehicle(id: string): Promise<Vehicle | undefined> {
    return this.fleet.vehicles.get(id);
  }

  async getShipment(id: string): Promise<Shipment | undefined> {
    return this.fleet.shipments.get(id);
  }
}
