import { describe, expect, it } from 'vitest';
import { type ContextProvider, FileContextProvider, resolveAssetContext } from '../../src/context/index.js';
import { makeAlert, reeferExcursion } from './helpers.js';

const fleetProvider = FileContextProvider.fromFile();

describe('resolveAssetContext', () => {
  it('looks up the vehicles and the shipments the alerts name', async () => {
    const resolved = await resolveAssetContext(
      [reeferExcursion('TRK-0042', 'SHP-0042', 5), reeferExcursion('TRK-0077', 'SHP-0077', 5)],
      fleetProvider,
    );
    expect(resolved.unavailable).toBe(false);
    expect([...resolved.assets.vehicles.keys()]).toEqual(['TRK-0042', 'TRK-0077']);
    expect([...resolved.assets.shipments.keys()]).toEqual(['SHP-0042', 'SHP-0077']);
  });

  it('falls back to everything on board when the alert names no shipment', async () => {
    const resolved = await resolveAssetContext([reeferExcursion('TRK-0128', undefined, 5)], fleetProvider);
    expect([...resolved.assets.shipments.keys()]).toEqual(['SHP-0128', 'SHP-0129']);
  });

  it('needs no lookups for infrastructure alerts', async () => {
    const resolved = await resolveAssetContext(
      [makeAlert({ labels: { alertname: 'RedisDown' } })],
      fleetProvider,
    );
    expect(resolved).toEqual({ assets: { vehicles: new Map(), shipments: new Map() }, unavailable: false });
  });

  it('keeps what it found when some lookups fail, and never throws', async () => {
    const flaky: ContextProvider = {
      getVehicle: (id) => fleetProvider.getVehicle(id),
      getShipment: () => {
        throw new TypeError('provider bug');
      },
    };
    const resolved = await resolveAssetContext([reeferExcursion('TRK-0042', undefined, 5)], flaky);
    expect(resolved).toMatchObject({ unavailable: true, reasonCode: 'error', reason: 'provider bug' });
    expect(resolved.assets.vehicles.get('TRK-0042')?.driver?.name).toBe('Ana Silva');
    expect(resolved.assets.shipments.size).toBe(0);
  });

  it('does not let lookups that finish after the deadline change the result', async () => {
    let finishLate: () => void = () => undefined;
    const late: ContextProvider = {
      getVehicle: (id) =>
        new Promise((resolve) => {
          finishLate = () => void fleetProvider.getVehicle(id).then(resolve);
        }),
      getShipment: (id) => fleetProvider.getShipment(id),
    };
    const resolved = await resolveAssetContext([reeferExcursion('TRK-0042', 'SHP-0042', 5)], late, {
      deadlineMs: 30,
    });
    expect(resolved).toMatchObject({ unavailable: true, reasonCode: 'deadline' });
    expect([...resolved.assets.shipments.keys()]).toEqual(['SHP-0042']);
    finishLate();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(resolved.assets.vehicles.size).toBe(0);
  });
});
