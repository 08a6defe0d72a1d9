import { describe, expect, it } from 'vitest';
import {
  buildIncidentContext,
  type ContextAlert,
  EMPTY_ASSET_CONTEXT,
  FileContextProvider,
  formatContextLines,
  type IncidentContext,
  loadContextCatalog,
  type ResolvedAssetContext,
  resolveAssetContext,
} from '../../src/context/index.js';
import { makeAlert, minutesBefore, NOW, reeferExcursion } from './helpers.js';

const catalog = loadContextCatalog();
const fleetProvider = FileContextProvider.fromFile();
const noAssets: ResolvedAssetContext = { assets: EMPTY_ASSET_CONTEXT, unavailable: false };

async function contextFor(
  alerts: ContextAlert[],
  severity: string,
  commonLabels = alerts[0]?.labels ?? {},
): Promise<IncidentContext> {
  const resolved = await resolveAssetContext(alerts, fleetProvider);
  return buildIncidentContext({ alerts, commonLabels, severity }, catalog, resolved, NOW);
}

// As captured from Alertmanager 0.25 (fixtures/alertmanager-0.25/firing-postgresql-down.json).
const postgresqlDown = makeAlert({
  labels: {
    alertname: 'PostgreSQLDown',
    instance: 'postgres-exporter:9187',
    job: 'postgres',
    service: 'postgresql',
    severity: 'critical',
  },
  annotations: {
    description: 'PostgreSQL instance postgres-exporter:9187 has been down for more than 1 minute.',
    summary: 'PostgreSQL is down',
  },
  startsAt: minutesBefore(NOW, 3),
  fingerprint: 'cbf4f2dadd95cc56',
  generatorURL: 'http://prometheus:9090/graph?g0.expr=pg_up+%3D%3D+0',
});

describe('an infrastructure incident (PostgreSQLDown)', () => {
  it('says which capabilities are hit, the impact, the owner and the first action', () => {
    const ctx = buildIncidentContext(
      { alerts: [postgresqlDown], commonLabels: postgresqlDown.labels, severity: 'critical' },
      catalog,
      noAssets,
      NOW,
    );
    expect(ctx).toMatchObject({
      kind: 'infrastructure',
      alertname: 'PostgreSQLDown',
      severity: 'critical',
      service: { id: 'postgresql', name: 'PostgreSQL (dispatch database)' },
      owner: 'platform-data',
      runbook: 'https://runbooks.coldchain.example/services/postgresql',
      dashboard: 'https://grafana.coldchain.example/d/database/postgresql',
      vehicles: [],
      nextRecheckAt: undefined,
      unavailable: undefined,
    });
    expect(ctx.links.generator).toBe('http://prometheus:9090/graph?g0.expr=pg_up+%3D%3D+0');
    expect(decodeURIComponent(ctx.links.silence)).toBe(
      'https://alertmanager.coldchain.example/#/silences/new?filter={alertname="PostgreSQLDown",instance="postgres-exporter:9187",job="postgres",service="postgresql",severity="critical"}',
    );

    // The first action is its own field (shown first); the runbook is a link, not a line.
    expect(formatContextLines(ctx)).toEqual({
      heading: 'Dispatch impact · PostgreSQL (dispatch database)',
      firstAction:
        'Check `docker ps --filter name=coldchain-postgres` and its logs; restart the container if it exited.',
      assets: [],
      lines: [
        'Affects: dispatch order intake, driver assignment, live tracking, customer notifications',
        'Impact: No new dispatch orders can be accepted and drivers cannot be assigned; live tracking shows stale positions.',
        'Owner: platform-data',
      ],
    });
  });

  it('stays within four lines for every infrastructure alert in the catalog', () => {
    for (const entry of catalog.alerts.values()) {
      if (entry.scope !== 'infrastructure') continue;
      const alert = makeAlert({ labels: { alertname: entry.alertname, severity: 'warning' } });
      const ctx = buildIncidentContext(
        { alerts: [alert], commonLabels: alert.labels, severity: 'warning' },
        catalog,
        noAssets,
        NOW,
      );
      const { lines } = formatContextLines(ctx);
      expect(ctx.kind).toBe('infrastructure');
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.length).toBeLessThanOrEqual(3);
    }
  });

  it('names the service behind a container alert', () => {
    const alert = makeAlert({
      labels: { alertname: 'ContainerDown', name: 'coldchain-redis', severity: 'critical' },
    });
    const ctx = buildIncidentContext(
      { alerts: [alert], commonLabels: alert.labels, severity: 'critical' },
      catalog,
      noAssets,
      NOW,
    );
    expect(ctx.service?.id).toBe('redis');
    expect(ctx.capabilities).toEqual(['live tracking', 'customer notifications', 'driver assignment']);
    expect(ctx.firstAction).toMatch(/^Run `docker ps -a/);
  });

  it('prefers the runbook the rule annotates', () => {
    const alert = makeAlert({
      labels: { alertname: 'RedisDown' },
      annotations: { runbook_url: 'https://wiki.example/redis' },
    });
    const ctx = buildIncidentContext(
      { alerts: [alert], commonLabels: alert.labels, severity: 'critical' },
      catalog,
      noAssets,
      NOW,
    );
    expect(ctx.runbook).toBe('https://wiki.example/redis');
  });
});

describe('a reefer incident (ReeferTemperatureExcursion on TRK-0042)', () => {
  const alert = reeferExcursion('TRK-0042', 'SHP-0042', 19);

  it('shows driver, depot, shipment, customer, cargo, temperature, budget and ETA', async () => {
    const ctx = await contextFor([alert], 'warning');
    expect(formatContextLines(ctx)).toEqual({
      heading: 'Cold-chain cargo · TRK-0042 · chilled pharma',
      firstAction:
        'Call the driver to check the reefer setpoint, the doors and the unit display; divert to the nearest depot if it does not recover.',
      assets: [
        {
          title: 'TRK-0042 · depot Rotterdam-North',
          status: 'firing',
          driver: { name: 'Ana Silva', phone: '+31 6 1234 5042' },
          facts: [
            'SHP-0042 for Pfizer NL: COVID-19 vaccines, 1,200 vials (chilled pharma 2–8 °C)',
            '9.4 °C, +1.4 °C above range for 19m · budget used 63% of 30m · ETA 14:20 UTC (after budget runs out)',
          ],
          dashboard: 'https://grafana.coldchain.example/d/reefer-fleet/reefer-fleet?var-vehicle_id=TRK-0042',
        },
      ],
      lines: [
        'Escalated to critical: chilled pharma excursion on TRK-0042 has used 63% of its 30 min budget (rule pharma-excursion-half-budget)',
        'Also notifying: qa@coldchain.example, qa-pharma@coldchain.example',
        'Impact: The cargo is outside its allowed temperature range; past its excursion allowance it may have to be destroyed.',
        'Owner: cold-chain-ops',
      ],
    });
  });

  it('escalates the warning to critical and schedules the next re-check', async () => {
    const ctx = await contextFor([alert], 'warning');
    expect(ctx.kind).toBe('asset');
    expect(ctx.originalSeverity).toBe('warning');
    expect(ctx.severity).toBe('critical');
    expect(ctx.escalation.rule).toBe('pharma-excursion-half-budget');
    // 30 min after the start the budget runs out, the threshold of excursion-budget-exhausted.
    expect(ctx.nextRecheckAt).toEqual(new Date('2026-11-26T12:11:00Z'));
  });

  it('carries the derived facts per shipment', async () => {
    const ctx = await contextFor([alert], 'warning');
    const [entry] = ctx.vehicles;
    const [shipment] = entry?.shipments ?? [];
    expect(entry).toMatchObject({
      subject: 'TRK-0042',
      vehicleKnown: true,
      status: 'firing',
      measuredTempC: 9.4,
      zone: 'cargo-1',
      firingMinutes: 19,
    });
    expect(shipment).toMatchObject({
      id: 'SHP-0042',
      known: true,
      customer: 'Pfizer NL',
      cargoClassId: 'chilled-pharma',
      eta: new Date('2026-11-26T14:20:00Z'),
      etaAfterBudget: true,
      deviation: { direction: 'above' },
      budget: { allowanceMinutes: 30, elapsedMinutes: 19, exhausted: false },
    });
    expect(shipment?.deviation?.deltaC).toBeCloseTo(1.4, 10);
    expect(entry?.links.dashboard).toBe(
      'https://grafana.coldchain.example/d/reefer-fleet/reefer-fleet?var-vehicle_id=TRK-0042',
    );
  });

  it('shows times in the configured zone', async () => {
    const ctx = await contextFor([alert], 'warning');
    expect(formatContextLines(ctx, { timeZone: 'Europe/Amsterdam' }).assets[0]?.facts[1]).toMatch(
      / · ETA 15:20 CET \(after budget runs out\)$/,
    );
  });

  it('falls back to UTC for a zone it does not know', async () => {
    const ctx = await contextFor([alert], 'warning');
    expect(formatContextLines(ctx, { timeZone: 'Europe/Amsterdan' }).assets[0]?.facts[1]).toContain(
      ' · ETA 14:20 UTC ',
    );
  });

  it('shows the day when the ETA is not today', async () => {
    const ctx = await contextFor([alert], 'warning');
    const shipment = ctx.vehicles[0]?.shipments[0];
    if (shipment !== undefined) shipment.eta = new Date('2026-11-27T06:00:00Z');
    expect(formatContextLines(ctx).assets[0]?.facts[1]).toContain(
      ' · ETA 27 Nov 06:00 UTC (after budget runs out)',
    );
  });

  it('flags an ETA already past, with how long ago', async () => {
    const ctx = await contextFor([alert], 'warning');
    const shipment = ctx.vehicles[0]?.shipments[0];
    if (shipment !== undefined) shipment.eta = new Date(NOW.getTime() - 2 * 3600_000 - 5 * 60_000);
    expect(formatContextLines(ctx).assets[0]?.facts[1]).toMatch(/ · ETA 09:55 UTC, 2h 5m ago$/);
  });

  it('leaves a warning below half budget as it is and re-checks at 50%', async () => {
    const ctx = await contextFor([reeferExcursion('TRK-0042', 'SHP-0042', 10)], 'warning');
    expect(ctx.severity).toBe('warning');
    expect(ctx.escalation.matches).toEqual([]);
    expect(ctx.nextRecheckAt).toEqual(new Date('2026-11-26T12:05:00Z'));
    expect(formatContextLines(ctx).lines[0]).toMatch(/^Impact: /);
  });

  it('says resolved and stops counting budget once the alert resolves', async () => {
    const ctx = await contextFor([{ ...alert, status: 'resolved' }], 'warning');
    expect(ctx.vehicles[0]?.shipments[0]?.budget).toBeUndefined();
    expect(ctx.nextRecheckAt).toBeUndefined();
    // Resolved, the reading is the peak: it must not read as current.
    expect(formatContextLines(ctx).assets[0]).toMatchObject({
      title: 'TRK-0042 · depot Rotterdam-North · resolved',
      status: 'resolved',
      facts: [
        'SHP-0042 for Pfizer NL: COVID-19 vaccines, 1,200 vials (chilled pharma 2–8 °C)',
        'peaked at 9.4 °C, +1.4 °C above range · ETA 14:20 UTC',
      ],
    });
  });

  it('keeps the peak, the time out of range and the budget used once resolved', async () => {
    const ended = (minutesAgo: number) => new Date(NOW.getTime() - minutesAgo * 60_000).toISOString();
    const earlier = { ...reeferExcursion('TRK-0042', 'SHP-0042', 19, '10.1'), status: 'resolved' as const };
    const later = { ...reeferExcursion('TRK-0042', 'SHP-0042', 9, '8.6'), status: 'resolved' as const };
    const ctx = await contextFor(
      [
        { ...earlier, fingerprint: 'a', endsAt: ended(9) },
        { ...later, fingerprint: 'b', endsAt: ended(1) },
      ],
      'warning',
    );
    expect(ctx.vehicles[0]).toMatchObject({
      measuredTempC: 10.1,
      peakTempC: 10.1,
      endedAt: new Date(ended(1)),
    });
    expect(formatContextLines(ctx).assets[0]?.facts[1]).toBe(
      'peaked at 10.1 °C, +2.1 °C above range · out of range for 18m · budget used 60% of 30m · ETA 14:20 UTC',
    );
  });
});

describe('asset groups', () => {
  it('gives each vehicle of a group its own line (captured payload with temperature_c labels)', async () => {
    const alerts = ['TRK-0042', 'TRK-0077'].map((vehicleId) =>
      makeAlert({
        labels: {
          alertname: 'ReeferTemperatureExcursion',
          severity: 'critical',
          shipment_id: vehicleId.replace('TRK', 'SHP'),
          temperature_c: '9.4',
          vehicle_id: vehicleId,
          zone: 'cargo-1',
        },
        annotations: { runbook_url: 'https://runbooks.example/reefer-excursion' },
        startsAt: minutesBefore(NOW, 4),
      }),
    );
    const ctx = await contextFor(alerts, 'critical', {
      alertname: 'ReeferTemperatureExcursion',
      severity: 'critical',
      temperature_c: '9.4',
      zone: 'cargo-1',
    });
    expect(ctx.vehicles.map((entry) => entry.subject)).toEqual(['TRK-0042', 'TRK-0077']);
    const { heading, assets } = formatContextLines(ctx);
    expect(heading).toBe('Cold-chain cargo · 2 vehicles · 2 shipments · chilled pharma');
    expect(assets.map((a) => [a.title, a.driver?.name, ...a.facts])).toEqual([
      [
        'TRK-0042 · depot Rotterdam-North',
        'Ana Silva',
        'SHP-0042 for Pfizer NL: COVID-19 vaccines, 1,200 vials (chilled pharma 2–8 °C)',
        '9.4 °C, +1.4 °C above range for 4m · budget used 13% of 30m · ETA 14:20 UTC (after budget runs out)',
      ],
      [
        'TRK-0077 · depot Venlo',
        'Jonas Weber',
        'SHP-0077 for Apotheek Centraal Venlo: Insulin pens, 3,000 units (chilled pharma 2–8 °C)',
        '9.4 °C, +1.4 °C above range for 4m · budget used 13% of 30m · ETA 12:20 UTC',
      ],
    ]);
    expect(ctx.runbook).toBe('https://runbooks.example/reefer-excursion');
    // The measurement label is left out of the silence, so it keeps matching as the temperature moves.
    expect(decodeURIComponent(ctx.links.silence)).toMatch(
      /filter=\{alertname="ReeferTemperatureExcursion",severity="critical",zone="cargo-1"\}$/,
    );
    expect(decodeURIComponent(ctx.vehicles[1]?.links.silence ?? '')).toContain('vehicle_id="TRK-0077"');
  });

  it('lists every shipment of a mixed load, each against its own range', async () => {
    const ctx = await contextFor([reeferExcursion('TRK-0128', undefined, 20, '-12')], 'warning');
    expect(formatContextLines(ctx).assets[0]?.facts).toEqual([
      'SHP-0128 for BioNTech Logistics: mRNA vaccine concentrate, 300 vials (deep-frozen pharma −25 to −15 °C)',
      '−12 °C, +3 °C above range for 20m · budget used 133% of 15m · ETA 18:10 UTC (after budget runs out)',
      'SHP-0129 for Apotheek Centraal Venlo: Paracetamol tablets, 6 pallets (controlled room temperature 15–25 °C)',
      '−12 °C, −27 °C below range for 20m · budget used 8% of 4h · ETA 18:10 UTC (after budget runs out)',
    ]);
    expect(ctx.escalation.matches.map((match) => `${match.rule}:${match.shipmentId}`)).toEqual([
      'pharma-excursion-half-budget:SHP-0128',
      'excursion-budget-exhausted:SHP-0128',
    ]);
  });

  it('escalates missing telemetry on pharma cargo at once', async () => {
    const alert = makeAlert({
      labels: { alertname: 'ReeferTelemetryMissing', severity: 'warning', vehicle_id: 'TRK-0077' },
      startsAt: minutesBefore(NOW, 2),
    });
    const ctx = await contextFor([alert], 'warning');
    expect(ctx.severity).toBe('critical');
    const { lines, assets } = formatContextLines(ctx);
    expect(assets[0]?.facts).toEqual([
      'SHP-0077 for Apotheek Centraal Venlo: Insulin pens, 3,000 units (chilled pharma 2–8 °C)',
      'firing for 2m · ETA 12:20 UTC',
    ]);
    expect(lines.slice(0, 2)).toEqual([
      'Escalated to critical: chilled pharma cargo on TRK-0077: reefer telemetry missing (rule pharma-telemetry-missing)',
      'Also notifying: qa-pharma@coldchain.example',
    ]);
  });

  it('names each vehicle’s alerts when the group mixes alert names', async () => {
    const alerts = [
      makeAlert({
        labels: { alertname: 'ReeferDoorOpenTooLong', vehicle_id: 'TRK-0113' },
        startsAt: minutesBefore(NOW, 12),
      }),
      makeAlert({
        labels: { alertname: 'ReeferUnitFault', vehicle_id: 'TRK-0113' },
        startsAt: minutesBefore(NOW, 3),
      }),
    ];
    const ctx = await contextFor(alerts, 'warning', { vehicle_id: 'TRK-0113' });
    expect(ctx.alertname).toBeUndefined();
    expect(ctx.title).toBe('reefer door open too long');
    expect(formatContextLines(ctx).assets[0]).toMatchObject({
      title: 'TRK-0113 · depot Antwerp-Port · ReeferDoorOpenTooLong, ReeferUnitFault',
      facts: [
        'SHP-0113 for GreenLeaf Fresh: Lettuce and herbs, 22 pallets (fresh produce 0–4 °C)',
        'firing for 12m · ETA 07:50 UTC, 4h 10m ago',
      ],
    });
  });

  it('shows what the labels say when the dispatch context is unavailable, and still escalates by the cargo_class label', () => {
    const alert = makeAlert({
      labels: {
        alertname: 'ReeferTemperatureExcursion',
        vehicle_id: 'TRK-0042',
        shipment_id: 'SHP-0042',
        cargo_class: 'chilled-pharma',
        depot: 'Rotterdam-North',
      },
      annotations: { value: '9.4' },
      startsAt: minutesBefore(NOW, 19),
    });
    const unavailable: ResolvedAssetContext = {
      assets: EMPTY_ASSET_CONTEXT,
      unavailable: true,
      reason: 'dispatch API did not answer GET /vehicles/TRK-0042 within 800 ms',
      reasonCode: 'timeout',
    };
    const ctx = buildIncidentContext(
      { alerts: [alert], commonLabels: alert.labels, severity: 'warning' },
      catalog,
      unavailable,
      NOW,
    );
    expect(ctx.unavailable).toEqual({ reason: unavailable.reason, code: 'timeout' });
    expect(ctx.severity).toBe('critical');
    const formatted = formatContextLines(ctx);
    expect(formatted.assets[0]).toMatchObject({
      title: 'TRK-0042 · depot Rotterdam-North',
      facts: [
        'SHP-0042 (chilled pharma 2–8 °C)',
        '9.4 °C, +1.4 °C above range for 19m · budget used 63% of 30m',
      ],
    });
    expect(formatted.lines.slice(0, 3)).toEqual([
      'Escalated to critical: chilled pharma excursion on TRK-0042 has used 63% of its 30 min budget (rule pharma-excursion-half-budget)',
      'Also notifying: qa@coldchain.example, qa-pharma@coldchain.example',
      'Dispatch context unavailable (dispatch API did not answer GET /vehicles/TRK-0042 within 800 ms); showing what the alert labels say',
    ]);
  });

  it('says when the dispatch system does not know the vehicle', async () => {
    const ctx = await contextFor([reeferExcursion('TRK-9999', undefined, 1)], 'warning');
    expect(formatContextLines(ctx).assets[0]).toMatchObject({
      title: 'TRK-9999 · not in the dispatch system',
      facts: ['9.4 °C for 1m'],
    });
  });
});

describe('an alert the catalog does not know', () => {
  it('is kind unknown and says so in one line', () => {
    const alert = makeAlert({ labels: { alertname: 'KafkaLagHigh', severity: 'warning' } });
    const ctx = buildIncidentContext(
      { alerts: [alert], commonLabels: alert.labels, severity: 'warning' },
      catalog,
      noAssets,
      NOW,
    );
    expect(ctx.kind).toBe('unknown');
    expect(formatContextLines(ctx)).toEqual({
      heading: 'No catalog context',
      assets: [],
      lines: ['KafkaLagHigh has no entry in the context catalog'],
    });
  });

  it('still finds the service from a service label', () => {
    const alert = makeAlert({ labels: { alertname: 'PgBouncerDown', service: 'postgresql' } });
    const ctx = buildIncidentContext(
      { alerts: [alert], commonLabels: alert.labels, severity: 'critical' },
      catalog,
      noAssets,
      NOW,
    );
    expect(ctx.kind).toBe('infrastructure');
    expect(ctx.owner).toBe('platform-data');
    expect(ctx.impact).toBe(
      'Orders, assignments and shipment records can be neither written nor read, so dispatch stops.',
    );
  });

  it('keeps a newline in a label from splitting a line', async () => {
    const ctx = await contextFor([reeferExcursion('TRK-0042\nINJECTED', undefined, 1)], 'warning');
    expect(formatContextLines(ctx).assets[0]?.title).toBe('TRK-0042 INJECTED · not in the dispatch system');
  });
});
