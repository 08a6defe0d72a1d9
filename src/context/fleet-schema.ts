import { z } from 'zod';
import type { Shipment, Vehicle } from './types.js';

/**
 * Wire shapes of the dispatch system's vehicles and shipments (snake_case, as its FastAPI
 * backend serves them), shared by the fleet file and the HTTP API so both mean the same thing.
 * The file is strict (a typo is an error); API responses are lenient, since the API may grow
 * fields this relay does not use.
 */

const text = z.string().trim().min(1, 'must not be empty');
const isoTime = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 time with offset, e.g. 2026-11-26T14:20:00Z',
});

const driverShape = { name: text, phone: text.optional() };

const vehicleShape = {
  id: text,
  depot: text.optional(),
  reefer_unit: text.optional(),
  shipment_ids: z.array(text).default([]),
};

const shipmentShape = {
  id: text,
  customer: text,
  cargo_class: text,
  description: text,
  eta: isoTime.optional(),
  origin: text.optional(),
  destination: text.optional(),
  vehicle_id: text.optional(),
};

interface WireVehicle {
  id: string;
  driver?: { name: string; phone?: string | undefined } | undefined;
  depot?: string | undefined;
  reefer_unit?: string | undefined;
  shipment_ids: string[];
}

type WireShipment = z.output<z.ZodObject<typeof shipmentShape>>;

function toVehicle(wire: WireVehicle): Vehicle {
  return {
    id: wire.id,
    driver: wire.driver && { name: wire.driver.name, phone: wire.driver.phone },
    depot: wire.depot,
    reeferUnit: wire.reefer_unit,
    shipmentIds: wire.shipment_ids,
  };
}

function toShipment(wire: WireShipment): Shipment {
  return {
    id: wire.id,
    customer: wire.customer,
    cargoClass: wire.cargo_class,
    description: wire.description,
    eta: wire.eta,
    origin: wire.origin,
    destination: wire.destination,
    vehicleId: wire.vehicle_id,
  };
}

export const fileVehicleSchema = z
  .strictObject({ ...vehicleShape, driver: z.strictObject(driverShape).optional() })
  .transform(toVehicle);
export const fileShipmentSchema = z.strictObject(shipmentShape).transform(toShipment);

export const apiVehicleSchema = z
  .object({ ...vehicleShape, driver: z.object(driverShape).optional() })
  .transform(toVehicle);
export const apiShipmentSchema = z.object(shipmentShape).transform(toShipment);
