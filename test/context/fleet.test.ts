import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigFileError,
  FileContextProvider,
  loadContextCatalog,
  loadFleet,
} from '../../src/context/index.js';

const tempDir = mkdtempSync(join(tmpdir(), 'context-fleet-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

function writeFleet(name: string, text: string): string {
  const file = join(tempDir, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

describe('the sample fleet', () => {
  const fleet = loadFleet();

  it('has TRK-0042 and TRK-0077 with their drivers, depots and shipments', async () => {
    const provider = new FileContextProvider(fleet);
    expect(await provider.getVehicle('TRK-0042')).toEqual({
      id: 'TRK-0042',
      driver: { name: 'Ana Silva', phone: '+31 6 1234 5042' },
      depot: 'Rotterdam-North',
      reeferUnit: 'Carrier Vector 1550',
      shipmentIds: ['SHP-0042'],
    });
    expect(await provider.getShipment('SHP-0042')).toEqual({
      id: 'SHP-0042',
      customer: 'Pfizer NL',
      cargoClass: 'chilled-pharma',
      description: 'COVID-19 vaccines, 1,200 vials',
      eta: '2026-11-26T14:20:00Z',
      origin: 'Puurs (BE)',
      destination: 'RIVM distribution centre, Bilthoven',
      vehicleId: 'TRK-0042',
    });
    expect((await provider.getVehicle('TRK-0077'))?.shipmentIds).toEqual(['SHP-0077']);
    expect((await provider.getShipment('SHP-0077'))?.cargoClass).toBe('chilled-pharma');
    expect(fleet.vehicles.size).toBe(5);
  });

  it('uses only cargo classes the shipped catalog defines', () => {
    const catalog = loadContextCatalog();
    for (const shipment of fleet.shipments.values())
      expect(catalog.cargoClasses.has(shipment.cargoClass)).toBe(true);
  });

  it('answers undefined for ids it does not know', async () => {
    const provider = FileContextProvider.fromFile();
    expect(await provider.getVehicle('TRK-9999')).toBeUndefined();
    expect(await provider.getShipment('constructor')).toBeUndefined();
  });
});

describe('fleet validation', () => {
  it('names the file and the path of the bad key', () => {
    const file = writeFleet(
      'bad',
      [
        'vehicles:',
        '  - id: TRK-1',
        '    driver: { name: A, pager: "1" }',
        '    shipment_ids: [SHP-1]',
        'shipments:',
        '  - id: SHP-1',
        '    customer: C',
        '    cargo_class: frozen',
        '    description: D',
        '    eta: tomorrow',
      ].join('\n'),
    );
    let error: unknown;
    try {
      loadFleet(file);
    } catch (caught: unknown) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigFileError);
    expect((error as ConfigFileError).message.split('\n')).toEqual([
      `${file}: vehicles.0.driver.pager: unknown key`,
      `${file}: shipments.0.eta: must be an ISO 8601 time with offset, e.g. 2026-11-26T14:20:00Z`,
    ]);
    expect(() =>
      loadFleet(
        writeFleet(
          'bad-ref',
          'vehicles:\n  - id: TRK-1\n    driver: { name: A, pager: "1" }\n    shipment_ids: [SHP-2]\nshipments: []\n',
        ),
      ),
    ).toThrow(
      /vehicles\.0\.driver\.pager: unknown key\n.*vehicles\.0\.shipment_ids\.0: unknown shipment "SHP-2"/,
    );
  });

  it('rejects a vehicle carrying a shipment the file does not define', () => {
    const file = writeFleet(
      'dangling',
      'vehicles:\n  - id: TRK-1\n    shipment_ids: [SHP-404]\nshipments: []\n',
    );
    expect(() => loadFleet(file)).toThrow(`${file}: vehicles.0.shipment_ids.0: unknown shipment "SHP-404"`);
  });
});
