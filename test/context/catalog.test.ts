import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ConfigFileError, DEFAULT_CATALOG_PATH, loadContextCatalog } from '../../src/context/index.js';

const MONITORING_GUIDE_RULES = [
  'HighCPUUsage',
  'HighMemoryUsage',
  'LowDiskSpace',
  'ContainerDown',
  'ContainerRestarting',
  'ContainerHighMemory',
  'PostgreSQLDown',
  'PostgreSQLTooManyConnections',
  'PostgreSQLSlowQueries',
  'RedisDown',
  'RedisHighMemory',
  'High5xxErrorRate',
  'HighResponseTime',
  'LowRequestThroughput',
];
const PLATFORM_RULES = ['HostDown', 'TelemetryIngestDown'];
const COLD_CHAIN_RULES = [
  'ReeferTemperatureExcursion',
  'ReeferTelemetryMissing',
  'ReeferDoorOpenTooLong',
  'ReeferUnitFault',
  'ShipmentEtaAtRisk',
];

const tempDir = mkdtempSync(join(tmpdir(), 'context-catalog-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

type Key = string | number;
type Node = Record<Key, unknown>;

/** A parsed copy of the shipped catalog that tests edit by path. */
class RawCatalog {
  readonly root = parse(readFileSync(DEFAULT_CATALOG_PATH, 'utf8')) as unknown;

  get(path: readonly Key[]): unknown {
    return path.reduce<unknown>((node, key) => (node as Node)[key], this.root);
  }

  set(path: readonly Key[], value: unknown): void {
    (this.get(path.slice(0, -1)) as Node)[path[path.length - 1] as Key] = value;
  }

  delete(path: readonly Key[]): void {
    delete (this.get(path.slice(0, -1)) as Node)[path[path.length - 1] as Key];
  }

  push(path: readonly Key[], value: unknown): void {
    (this.get(path) as unknown[]).push(value);
  }
}

/** Writes a variant of the shipped catalog and returns the loader's error. */
function loadVariant(name: string, change: (raw: RawCatalog) => void): ConfigFileError {
  const raw = new RawCatalog();
  change(raw);
  return loadText(name, stringify(raw.root));
}

function loadText(name: string, text: string): ConfigFileError {
  const file = join(tempDir, `${name}.yaml`);
  writeFileSync(file, text);
  try {
    loadContextCatalog(file);
  } catch (error: unknown) {
    if (error instanceof ConfigFileError) return error;
    throw error;
  }
  throw new Error(`${name} loaded without error`);
}

describe('the shipped catalog', () => {
  const catalog = loadContextCatalog();

  it.each([...MONITORING_GUIDE_RULES, ...PLATFORM_RULES, ...COLD_CHAIN_RULES])(
    'has text for %s',
    (alertname) => {
      const entry = catalog.alerts.get(alertname);
      expect(entry).toBeDefined();
      expect(entry?.title.length).toBeGreaterThan(3);
      expect(entry?.impact.length).toBeGreaterThan(20);
      expect(entry?.firstAction.length).toBeGreaterThan(20);
      const service = catalog.services.get(entry?.service ?? '');
      expect(service?.owner).toBeTruthy();
      expect(entry?.runbook ?? service?.runbook).toMatch(/^https:\/\//);
    },
  );

  it('treats the cold-chain rules as asset alerts and only the excursion as spending budget', () => {
    for (const alertname of COLD_CHAIN_RULES) expect(catalog.alerts.get(alertname)?.scope).toBe('asset');
    for (const alertname of [...MONITORING_GUIDE_RULES, ...PLATFORM_RULES])
      expect(catalog.alerts.get(alertname)?.scope).toBe('infrastructure');
    const spending = [...catalog.alerts.values()]
      .filter((entry) => entry.countsAgainstBudget)
      .map((entry) => entry.alertname);
    expect(spending).toEqual(['ReeferTemperatureExcursion']);
  });

  it('names the five dispatch capabilities', () => {
    expect([...catalog.capabilities.values()]).toEqual([
      'dispatch order intake',
      'driver assignment',
      'temperature telemetry ingestion',
      'live tracking',
      'customer notifications',
    ]);
  });

  it('has the cargo classes with their ranges and allowances', () => {
    const ranges = Object.fromEntries(
      [...catalog.cargoClasses.values()].map((cargo) => [
        cargo.id,
        [cargo.minC, cargo.maxC, cargo.excursionAllowanceMinutes],
      ]),
    );
    expect(ranges).toEqual({
      frozen: [undefined, -18, 60],
      'deep-frozen-pharma': [-25, -15, 15],
      'chilled-pharma': [2, 8, 30],
      'fresh-produce': [0, 4, 120],
      'controlled-room-temperature': [15, 25, 240],
    });
    for (const cargo of catalog.cargoClasses.values())
      expect(cargo.escalationContacts.length).toBeGreaterThan(0);
  });

  it('has the pharma escalation rules', () => {
    expect(catalog.escalation.map((rule) => rule.name)).toEqual([
      'pharma-excursion-half-budget',
      'pharma-telemetry-missing',
      'excursion-budget-exhausted',
    ]);
    expect(catalog.escalation[0]).toEqual({
      name: 'pharma-excursion-half-budget',
      when: {
        alertnameIn: ['ReeferTemperatureExcursion'],
        cargoClassIn: ['chilled-pharma', 'deep-frozen-pharma'],
        budgetUsedPctGte: 50,
      },
      action: { severity: 'critical', addEmail: ['qa@coldchain.example'], notifyCargoContacts: true },
    });
  });
});

describe('catalog validation errors name the file and the path of the bad key', () => {
  it('reports an unknown key at its own path', () => {
    const error = loadVariant('typo', (raw) => {
      raw.set(['escalation', 0, 'when', 'budget_used_pct_gt'], 50);
    });
    expect(error.message).toContain(`${error.file}: escalation.0.when.budget_used_pct_gt: unknown key`);
    expect(error.issues).toEqual([{ path: 'escalation.0.when.budget_used_pct_gt', message: 'unknown key' }]);
  });

  it('reports a wrong type', () => {
    const error = loadVariant('wrong-type', (raw) => {
      raw.set(['cargo_classes', 'chilled-pharma', 'excursion_allowance_minutes'], 'thirty');
    });
    expect(error.message).toBe(
      `${error.file}: cargo_classes.chilled-pharma.excursion_allowance_minutes: Invalid input: expected number, received string`,
    );
  });

  it('reports a missing key', () => {
    const error = loadVariant('missing', (raw) => {
      raw.delete(['alerts', 'RedisDown', 'first_action']);
    });
    expect(error.message).toContain(`${error.file}: alerts.RedisDown.first_action: Invalid input`);
  });

  it('reports a bad URL and a bad email', () => {
    const error = loadVariant('bad-url', (raw) => {
      raw.set(['services', 'redis', 'runbook'], 'runbooks/redis');
      raw.set(['cargo_classes', 'frozen', 'escalation_contacts'], ['food-safety']);
    });
    expect(error.issues).toEqual([
      { path: 'services.redis.runbook', message: 'must be an http(s) URL' },
      { path: 'cargo_classes.frozen.escalation_contacts.0', message: 'must be an email address' },
    ]);
  });

  it('reports an inverted temperature range and a class without any bound', () => {
    const error = loadVariant('range', (raw) => {
      raw.set(['cargo_classes', 'fresh-produce', 'min_c'], 6);
      raw.delete(['cargo_classes', 'frozen', 'max_c']);
    });
    expect(error.issues).toEqual([
      { path: 'cargo_classes.frozen', message: 'needs min_c, max_c or both' },
      { path: 'cargo_classes.fresh-produce.min_c', message: 'min_c (6) is above max_c (4)' },
    ]);
  });

  it('reports references to things the catalog does not define', () => {
    const error = loadVariant('references', (raw) => {
      raw.set(['alerts', 'RedisDown', 'service'], 'cache');
      raw.push(['services', 'redis', 'capabilities'], 'billing');
      raw.push(['escalation', 0, 'when', 'cargo_class_in'], 'chiled-pharma');
      raw.set(['escalation', 1, 'when', 'alertname_in'], ['ReeferTelemetryMising']);
    });
    expect(error.issues).toEqual([
      { path: 'services.redis.capabilities.3', message: 'unknown capability "billing"' },
      { path: 'alerts.RedisDown.service', message: 'unknown service "cache"' },
      { path: 'escalation.0.when.cargo_class_in.2', message: 'unknown cargo class "chiled-pharma"' },
      { path: 'escalation.1.when.alertname_in.0', message: 'unknown alert "ReeferTelemetryMising"' },
    ]);
  });

  it('rejects a budget threshold on an alert that does not spend budget', () => {
    const error = loadVariant('budget-on-telemetry', (raw) => {
      raw.set(['escalation', 1, 'when', 'budget_used_pct_gte'], 50);
    });
    expect(error.issues).toEqual([
      {
        path: 'escalation.1.when.alertname_in.0',
        message:
          '"ReeferTelemetryMissing" does not count against the excursion budget, so budget_used_pct_gte can never match it',
      },
    ]);
  });

  it('rejects a rule with no condition or no effect', () => {
    const error = loadVariant('empty-rule', (raw) => {
      raw.push(['escalation'], parse('{ name: everything, when: {}, then: {} }'));
    });
    expect(error.issues).toEqual([
      { path: 'escalation.3.when', message: 'needs at least one condition' },
      { path: 'escalation.3.then', message: 'needs severity, add_email or notify_cargo_contacts' },
    ]);
  });

  it('rejects duplicate rule names', () => {
    const error = loadVariant('duplicate-rule', (raw) => {
      raw.set(['escalation', 2, 'name'], raw.get(['escalation', 0, 'name']));
    });
    expect(error.issues).toEqual([
      { path: 'escalation.2.name', message: 'duplicate rule name "pharma-excursion-half-budget"' },
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const error = loadText('syntax', 'links:\n  grafana: https://g\n  grafana: https://h\n');
    expect(error.message).toMatch(/syntax\.yaml: line 3 column 3: Map keys must be unique/);
  });

  it('reports a missing file', () => {
    expect(() => loadContextCatalog(join(tempDir, 'absent.yaml'))).toThrow(/absent\.yaml: \(file\): ENOENT/);
  });
});
