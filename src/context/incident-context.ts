import {
  alertnameOf,
  cargoClassOf,
  containerNameOf,
  facilityOf,
  hasAssetLabels,
  shipmentIdOf,
  uniqueDefined,
  vehicleIdOf,
  zoneOf,
} from './alert-labels.js';
import type { AlertEntry, CargoClass, ContextCatalog, ServiceEntry } from './catalog.js';
import {
  type ExcursionBudget,
  excursionBudget,
  isEtaAfterBudget,
  parseEnd,
  parseTime,
  peakReading,
  readMeasuredTemperature,
  type TemperatureDeviation,
  temperatureDeviation,
} from './derived-facts.js';
import { type EscalationOutcome, type EscalationSubject, evaluateEscalation } from './escalation.js';
import {
  buildSilenceUrl,
  buildVehicleDashboardUrl,
  pickRunbook,
  resolveDashboardUrl,
  silenceMatchers,
} from './links.js';
import type {
  AlertStatus,
  AssetContext,
  ContextAlert,
  Driver,
  ResolvedAssetContext,
  UnavailableReason,
  Vehicle,
} from './types.js';

export type IncidentKind = 'infrastructure' | 'asset' | 'unknown';

export interface IncidentContextInput {
  alerts: readonly ContextAlert[];
  commonLabels: Readonly<Record<string, string>>;
  /** The group's severity as routed (the highest among firing alerts when not common). */
  severity: string;
}

export interface ShipmentFacts {
  id: string;
  /** Found in the dispatch system (false when unknown there or when the lookup failed). */
  known: boolean;
  customer?: string | undefined;
  description?: string | undefined;
  origin?: string | undefined;
  destination?: string | undefined;
  /** From the shipment, or the alert's `cargo_class` label when the shipment is not known. */
  cargoClassId?: string | undefined;
  /** Undefined when the class is not in the catalog. */
  cargoClass?: CargoClass | undefined;
  eta?: Date | undefined;
  /** Against this shipment's cargo range. */
  deviation?: TemperatureDeviation | undefined;
  /**
   * While an alert that counts against the budget fires: used so far. Once they all resolved: what the
   * excursion used in all, from its first start to its last end.
   */
  budget?: ExcursionBudget | undefined;
  etaAfterBudget?: boolean | undefined;
}

/** One vehicle of the group, or the shipment or facility the alerts name when there is no vehicle. */
export interface AssetEntry {
  subject: string;
  vehicleId?: string | undefined;
  vehicleKnown: boolean;
  /** Firing when any of its alerts fires. */
  status: AlertStatus;
  alertnames: string[];
  driver?: Driver | undefined;
  depot?: string | undefined;
  zone?: string | undefined;
  reeferUnit?: string | undefined;
  /** The current reading while firing; once resolved, the peak (the current one would mislead). */
  measuredTempC?: number | undefined;
  /** The worst reading among all its alerts, firing or resolved (derived-facts.ts peakReading). */
  peakTempC?: number | undefined;
  /** Once resolved: when its last alert ended. */
  endedAt?: Date | undefined;
  /** Earliest start among its firing alerts. */
  firingSince?: Date | undefined;
  firingMinutes?: number | undefined;
  shipments: ShipmentFacts[];
  links: { silence: string; dashboard?: string | undefined; generator?: string | undefined };
}

export interface IncidentContext {
  kind: IncidentKind;
  alertname?: string | undefined;
  /** Short noun phrase from the catalog ("PostgreSQL down"). */
  title?: string | undefined;
  /** After escalation. */
  severity: string;
  originalSeverity: string;
  service?: { id: string; name: string } | undefined;
  /** Human names of the dispatch capabilities affected. */
  capabilities: string[];
  impact?: string | undefined;
  owner?: string | undefined;
  firstAction?: string | undefined;
  /** The one runbook of the incident (links.ts pickRunbook: the rule's annotation, else the catalog's). */
  runbook?: string | undefined;
  /** The catalog's runbook alone, for callers that pick among more alerts than this context saw. */
  catalogRunbook?: string | undefined;
  dashboard?: string | undefined;
  /** Asset incidents: one entry per vehicle, in the order the alerts name them. */
  vehicles: AssetEntry[];
  escalation: EscalationOutcome;
  nextRecheckAt?: Date | undefined;
  links: { silence: string; generator?: string | undefined };
  unavailable?: { reason: string; code?: UnavailableReason | undefined } | undefined;
  evaluatedAt: Date;
}

/**
 * Everything the renderers need to say about a group beyond its labels: what it means for the
 * dispatch system or for the cargo on board, and whether the cargo rules escalate it. Pure.
 */
export function buildIncidentContext(
  input: IncidentContextInput,
  catalog: ContextCatalog,
  resolved: ResolvedAssetContext,
  now: Date,
): IncidentContext {
  const { alerts, commonLabels } = input;
  const assets = resolved.assets;
  const alertname = commonLabels.alertname ?? singleValue(alerts.map(alertnameOf));
  const entry = findAlertEntry(alertname, alerts, catalog);
  const kind: IncidentKind =
    entry?.scope === 'asset' || alerts.some(hasAssetLabels)
      ? 'asset'
      : entry !== undefined || findLabelledService(commonLabels, catalog)
        ? 'infrastructure'
        : 'unknown';
  const service = kind === 'unknown' ? undefined : findService(entry, alerts, commonLabels, catalog);

  const vehicles = kind === 'asset' ? buildAssetEntries(alerts, catalog, assets, now) : [];
  const escalation = evaluateEscalation(
    escalationSubjects(alerts, catalog, assets),
    input.severity,
    catalog.escalation,
    now,
  );

  return {
    kind,
    alertname,
    title: entry?.title,
    severity: escalation.severity ?? input.severity,
    originalSeverity: input.severity,
    service: service && { id: service.id, name: service.name },
    capabilities: service ? service.capabilities.map((id) => catalog.capabilities.get(id) ?? id) : [],
    impact: entry?.impact ?? service?.impact,
    owner: service?.owner,
    firstAction: entry?.firstAction,
    runbook: pickRunbook(alerts, entry?.runbook ?? service?.runbook),
    catalogRunbook: entry?.runbook ?? service?.runbook,
    dashboard:
      service?.dashboard === undefined
        ? undefined
        : resolveDashboardUrl(catalog.links.grafana, service.dashboard),
    vehicles,
    escalation,
    nextRecheckAt: escalation.nextRecheckAt,
    links: {
      silence: buildSilenceUrl(
        catalog.links.alertmanager,
        silenceMatchers(nonEmpty(commonLabels) ?? alerts[0]?.labels ?? {}),
      ),
      generator: representativeAlert(alerts)?.generatorURL,
    },
    unavailable: resolved.unavailable
      ? { reason: resolved.reason ?? 'context lookup failed', code: resolved.reasonCode }
      : undefined,
    evaluatedAt: now,
  };
}

function findAlertEntry(
  alertname: string | undefined,
  alerts: readonly ContextAlert[],
  catalog: ContextCatalog,
): AlertEntry | undefined {
  if (alertname !== undefined) return catalog.alerts.get(alertname);
  // A group of several alert names (group_by vehicle_id): describe it by its first catalogued firing alert.
  const ordered = [...alerts].sort((a, b) => Number(b.status === 'firing') - Number(a.status === 'firing'));
  for (const alert of ordered) {
    const name = alertnameOf(alert);
    const found = name === undefined ? undefined : catalog.alerts.get(name);
    if (found !== undefined) return found;
  }
  return undefined;
}

function findLabelledService(
  labels: Readonly<Record<string, string>>,
  catalog: ContextCatalog,
): ServiceEntry | undefined {
  const id = labels.service;
  return id === undefined ? undefined : catalog.services.get(id);
}

function findService(
  entry: AlertEntry | undefined,
  alerts: readonly ContextAlert[],
  commonLabels: Readonly<Record<string, string>>,
  catalog: ContextCatalog,
): ServiceEntry | undefined {
  // "ContainerDown" says little; the container it names tells which capability is hit.
  const containers = new Set(uniqueDefined(alerts.map(containerNameOf)));
  if (containers.size === 1) {
    const [container] = containers;
    for (const service of catalog.services.values()) {
      if (container !== undefined && service.containers.includes(container)) return service;
    }
  }
  return (entry && catalog.services.get(entry.service)) ?? findLabelledService(commonLabels, catalog);
}

function buildAssetEntries(
  alerts: readonly ContextAlert[],
  catalog: ContextCatalog,
  assets: AssetContext,
  now: Date,
): AssetEntry[] {
  const groups = new Map<string, ContextAlert[]>();
  for (const alert of alerts) {
    const key = assetKey(alert);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [alert]);
    else group.push(alert);
  }
  return [...groups.values()].map((group) => buildAssetEntry(group, catalog, assets, now));
}

function assetKey(alert: ContextAlert): string {
  const vehicleId = vehicleIdOf(alert);
  if (vehicleId !== undefined) return `vehicle:${vehicleId}`;
  const shipmentId = shipmentIdOf(alert);
  if (shipmentId !== undefined) return `shipment:${shipmentId}`;
  const place = [facilityOf(alert), zoneOf(alert)].filter(Boolean).join('/');
  return place === '' ? `alert:${alert.fingerprint}` : `place:${place}`;
}

function buildAssetEntry(
  alerts: readonly ContextAlert[],
  catalog: ContextCatalog,
  assets: AssetContext,
  now: Date,
): AssetEntry {
  const vehicleId = singleValue(alerts.map(vehicleIdOf));
  const vehicle = vehicleId === undefined ? undefined : assets.vehicles.get(vehicleId);
  const firing = alerts.filter((alert) => alert.status === 'firing');
  const firingSince = earliest(firing.map((alert) => parseTime(alert.startsAt)));
  const readings = uniqueNumbers(alerts.map((alert) => readingOf(alert, catalog)));
  const shipmentIds = uniqueDefined(alerts.flatMap((alert) => shipmentIdsConcerned(alert, vehicle)));
  const range = cargoRangeOf(shipmentIds, alerts, catalog, assets);
  const peakTempC = peakReading(readings, range);
  // Resolved, the last reading is not current: the peak is what QA needs.
  const measuredTempC = firing.length > 0 ? measuredTemperature(firing, catalog) : peakTempC;
  const endedAt = firing.length > 0 ? undefined : latest(alerts.map((alert) => parseEnd(alert.endsAt)));
  const depotLabel = singleValue(alerts.map(facilityOf));
  const zone = singleValue(alerts.map(zoneOf));
  const place = [depotLabel, zone].filter(Boolean).join(' ');

  return {
    subject:
      vehicleId ??
      singleValue(alerts.map(shipmentIdOf)) ??
      (place || (singleValue(alerts.map(alertnameOf)) ?? 'asset')),
    vehicleId,
    vehicleKnown: vehicle !== undefined,
    status: firing.length > 0 ? 'firing' : 'resolved',
    alertnames: uniqueDefined(alerts.map(alertnameOf)),
    driver: vehicle?.driver,
    depot: vehicle?.depot ?? depotLabel,
    zone,
    reeferUnit: vehicle?.reeferUnit,
    measuredTempC,
    peakTempC,
    endedAt,
    firingSince,
    firingMinutes:
      firingSince === undefined ? undefined : Math.max(0, now.getTime() - firingSince.getTime()) / 60_000,
    shipments: shipmentIds.map((id) =>
      buildShipmentFacts(id, alerts, vehicle, catalog, assets, measuredTempC, now),
    ),
    links: {
      silence: buildSilenceUrl(catalog.links.alertmanager, silenceMatchers(commonLabelsOf(alerts))),
      dashboard:
        vehicleId !== undefined && catalog.links.vehicleDashboard !== undefined
          ? buildVehicleDashboardUrl(catalog.links.grafana, catalog.links.vehicleDashboard, vehicleId)
          : undefined,
      generator: representativeAlert(alerts)?.generatorURL,
    },
  };
}

function buildShipmentFacts(
  id: string,
  alerts: readonly ContextAlert[],
  vehicle: Vehicle | undefined,
  catalog: ContextCatalog,
  assets: AssetContext,
  measuredTempC: number | undefined,
  now: Date,
): ShipmentFacts {
  const shipment = assets.shipments.get(id);
  const concerned = alerts.filter((alert) => shipmentIdsConcerned(alert, vehicle).includes(id));
  const cargoClassId = shipment?.cargoClass ?? singleValue(concerned.map(cargoClassOf));
  const cargoClass = cargoClassId === undefined ? undefined : catalog.cargoClasses.get(cargoClassId);
  const eta = parseTime(shipment?.eta);

  const counted = concerned.filter((alert) => entryOf(alert, catalog)?.countsAgainstBudget === true);
  const countedFiring = counted.filter((alert) => alert.status === 'firing');
  // Firing: used so far. All resolved: what the whole excursion used, from its first start to its last end.
  const budgetStart = earliest(
    (countedFiring.length > 0 ? countedFiring : counted).map((a) => parseTime(a.startsAt)),
  );
  const budgetEnd = countedFiring.length > 0 ? now : latest(counted.map((alert) => parseEnd(alert.endsAt)));
  const budget =
    cargoClass !== undefined && budgetStart !== undefined && budgetEnd !== undefined
      ? excursionBudget(budgetStart, budgetEnd, cargoClass.excursionAllowanceMinutes)
      : undefined;

  return {
    id,
    known: shipment !== undefined,
    customer: shipment?.customer,
    description: shipment?.description,
    origin: shipment?.origin,
    destination: shipment?.destination,
    cargoClassId,
    cargoClass,
    eta,
    deviation:
      cargoClass !== undefined && measuredTempC !== undefined
        ? temperatureDeviation(measuredTempC, cargoClass)
        : undefined,
    budget,
    etaAfterBudget: budget !== undefined && eta !== undefined ? isEtaAfterBudget(eta, budget) : undefined,
  };
}

function escalationSubjects(
  alerts: readonly ContextAlert[],
  catalog: ContextCatalog,
  assets: AssetContext,
): EscalationSubject[] {
  return alerts.flatMap((alert) => {
    const startsAt = parseTime(alert.startsAt);
    if (startsAt === undefined) return [];
    const alertname = alertnameOf(alert) ?? '';
    const entry = entryOf(alert, catalog);
    const vehicleId = vehicleIdOf(alert);
    const vehicle = vehicleId === undefined ? undefined : assets.vehicles.get(vehicleId);
    const base = {
      alertname,
      title: entry?.title ?? alertname,
      status: alert.status,
      startsAt,
      countsAgainstBudget: entry?.countsAgainstBudget ?? false,
      vehicleId,
    };
    const shipmentIds = shipmentIdsConcerned(alert, vehicle);
    if (shipmentIds.length === 0) {
      const cargoClassId = cargoClassOf(alert);
      return [
        {
          ...base,
          cargoClass: cargoClassId === undefined ? undefined : catalog.cargoClasses.get(cargoClassId),
        },
      ];
    }
    return shipmentIds.map((shipmentId) => {
      const cargoClassId = assets.shipments.get(shipmentId)?.cargoClass ?? cargoClassOf(alert);
      return {
        ...base,
        shipmentId,
        cargoClass: cargoClassId === undefined ? undefined : catalog.cargoClasses.get(cargoClassId),
      };
    });
  });
}

/** An alert naming its shipment concerns that one; otherwise everything its vehicle carries. */
function shipmentIdsConcerned(alert: ContextAlert, vehicle: Vehicle | undefined): string[] {
  const named = shipmentIdOf(alert);
  if (named !== undefined) return [named];
  return vehicle?.shipmentIds ?? [];
}

function measuredTemperature(alerts: readonly ContextAlert[], catalog: ContextCatalog): number | undefined {
  for (const alert of alerts) {
    const value = readMeasuredTemperature(alert, entryOf(alert, catalog)?.valueIsTemperature ?? false);
    if (value !== undefined) return value;
  }
  return undefined;
}

function readingOf(alert: ContextAlert, catalog: ContextCatalog): number | undefined {
  return readMeasuredTemperature(alert, entryOf(alert, catalog)?.valueIsTemperature ?? false);
}

function uniqueNumbers(values: readonly (number | undefined)[]): number[] {
  return [...new Set(values.filter((v): v is number => v !== undefined))];
}

/** The range the entry's readings are judged against: its first shipment's cargo class that the catalog knows. */
function cargoRangeOf(
  shipmentIds: readonly string[],
  alerts: readonly ContextAlert[],
  catalog: ContextCatalog,
  assets: AssetContext,
): CargoClass | undefined {
  const ids = [...shipmentIds.map((id) => assets.shipments.get(id)?.cargoClass), ...alerts.map(cargoClassOf)];
  for (const id of ids) {
    const found = id === undefined ? undefined : catalog.cargoClasses.get(id);
    if (found !== undefined) return found;
  }
  return undefined;
}

function entryOf(alert: ContextAlert, catalog: ContextCatalog): AlertEntry | undefined {
  const name = alertnameOf(alert);
  return name === undefined ? undefined : catalog.alerts.get(name);
}

function representativeAlert(alerts: readonly ContextAlert[]): ContextAlert | undefined {
  return alerts.find((alert) => alert.status === 'firing') ?? alerts[0];
}

/** Labels every alert of the list shares with the same value. */
function commonLabelsOf(alerts: readonly ContextAlert[]): Record<string, string> {
  const [first, ...rest] = alerts;
  if (first === undefined) return {};
  return Object.fromEntries(
    Object.entries(first.labels).filter(([name, value]) =>
      rest.every((alert) => alert.labels[name] === value),
    ),
  );
}

/** The value when all present values agree (and at least one is present). */
function singleValue(values: readonly (string | undefined)[]): string | undefined {
  const distinct = uniqueDefined(values);
  return distinct.length === 1 ? distinct[0] : undefined;
}

function earliest(times: readonly (Date | undefined)[]): Date | undefined {
  let result: Date | undefined;
  for (const time of times) if (time !== undefined && (result === undefined || time < result)) result = time;
  return result;
}

function latest(times: readonly (Date | undefined)[]): Date | undefined {
  let result: Date | undefined;
  for (const time of times) if (time !== undefined && (result === undefined || time > result)) result = time;
  return result;
}

function nonEmpty(labels: Readonly<Record<string, string>>): Readonly<Record<string, string>> | undefined {
  return Object.keys(labels).length > 0 ? labels : undefined;
}
