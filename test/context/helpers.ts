import type { ContextAlert } from '../../src/context/index.js';

export const NOW = new Date('2026-11-26T12:00:00Z');

export function minutesBefore(now: Date, minutes: number): string {
  return new Date(now.getTime() - minutes * 60_000).toISOString();
}

export function makeAlert(
  overrides: Partial<ContextAlert> & { labels: Record<string, string> },
): ContextAlert {
  return {
    status: 'firing',
    annotations: {},
    startsAt: NOW.toISOString(),
    fingerprint: Object.values(overrides.labels).join('|'),
    generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
    ...overrides,
  };
}

export function reeferExcursion(
  vehicleId: string,
  shipmentId: string | undefined,
  minutesAgo: number,
  value = '9.4',
): ContextAlert {
  return makeAlert({
    labels: {
      alertname: 'ReeferTemperatureExcursion',
      severity: 'warning',
      vehicle_id: vehicleId,
      ...(shipmentId === undefined ? {} : { shipment_id: shipmentId }),
      zone: 'cargo-1',
    },
    annotations: { summary: `Reefer temperature above range on ${vehicleId}`, value },
    startsAt: minutesBefore(NOW, minutesAgo),
    generatorURL: 'http://prometheus:9090/graph?g0.expr=reefer_temperature_celsius',
  });
}
