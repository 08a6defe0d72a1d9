// Prometheus config, alert rules and their unit tests (deploy/monitoring/prometheus).
import { copyFile, cp } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  alertRules,
  alertRuleTestCases,
  type PrometheusConfig,
  prometheusDir,
  promtool,
  readYaml,
  repoRoot,
  ruleFiles,
  ruleTestFiles,
  run,
  withTempDir,
} from './support.js';

const rel = (p: string) => relative(repoRoot, p);

// The monitoring guide's table: condition aside, these must not drift.
const GUIDE_ALERTS: Record<string, { for: string; severity: string }> = {
  HighCPUUsage: { for: '5m', severity: 'warning' },
  HighMemoryUsage: { for: '5m', severity: 'warning' },
  LowDiskSpace: { for: '5m', severity: 'critical' },
  ContainerDown: { for: '2m', severity: 'critical' },
  ContainerRestarting: { for: '5m', severity: 'warning' },
  ContainerHighMemory: { for: '5m', severity: 'warning' },
  PostgreSQLDown: { for: '1m', severity: 'critical' },
  PostgreSQLTooManyConnections: { for: '5m', severity: 'warning' },
  PostgreSQLSlowQueries: { for: '5m', severity: 'warning' },
  RedisDown: { for: '1m', severity: 'critical' },
  RedisHighMemory: { for: '5m', severity: 'warning' },
  High5xxErrorRate: { for: '5m', severity: 'critical' },
  HighResponseTime: { for: '5m', severity: 'warning' },
  LowRequestThroughput: { for: '10m', severity: 'warning' },
};

const COLD_CHAIN_ALERTS = [
  'ReeferTemperatureExcursion',
  'ReeferTelemetryMissing',
  'ReeferDoorOpenTooLong',
  'ReeferUnitFault',
  'ShipmentEtaAtRisk',
  'TelemetryIngestDown',
];

const RELAY_ALERTS = [
  'RelayDown',
  'RelayDeliveriesFailing',
  'RelayDeadLettersGrowing',
  'RelayQueueBacklog',
  'RelayWriteAheadStuck',
  'RelayRedisDown',
];

describe.skipIf(promtool.skip)('promtool', () => {
  it('accepts prometheus.yml and the rule files it loads', async () => {
    // On a copy, so the check sees exactly the files the container mounts and
    // nothing a developer left next to them (a stray targets/ecs/*.json).
    await withTempDir(async (dir) => {
      await copyFile(join(prometheusDir, 'prometheus.yml'), join(dir, 'prometheus.yml'));
      await cp(join(prometheusDir, 'rules'), join(dir, 'rules'), { recursive: true });
      const r = await run(promtool.path(), [
        'check',
        'config',
        '--lint=all',
        '--lint-fatal',
        join(dir, 'prometheus.yml'),
      ]);
      expect(r.code, r.output).toBe(0);
      expect(r.stdout, r.output).toContain(`SUCCESS: ${ruleFiles().length} rule files found`);
    });
  });

  it.each(ruleFiles().map((f) => [rel(f), f]))('check rules %s', async (_name, file) => {
    const r = await run(promtool.path(), ['check', 'rules', '--lint=all', '--lint-fatal', file]);
    expect(r.code, r.output).toBe(0);
  });

  it.each(ruleTestFiles().map((f) => [rel(f), f]))('unit tests %s pass', async (_name, file) => {
    const r = await run(promtool.path(), ['test', 'rules', basename(file)], {
      cwd: join(prometheusDir, 'tests'),
    });
    expect(r.code, r.output).toBe(0);
  });
});

describe('alert rules', () => {
  const rules = alertRules();
  const byName = new Map(rules.map((r) => [r.alert, r]));

  it('have unique names', () => {
    expect(rules.length).toBe(byName.size);
  });

  it('include every alert of the monitoring guide with its for and severity', () => {
    for (const [name, want] of Object.entries(GUIDE_ALERTS)) {
      const rule = byName.get(name);
      expect(rule, `${name} missing`).toBeDefined();
      expect({ for: rule?.for, severity: rule?.labels?.severity }, name).toEqual(want);
    }
  });

  it('include HostDown, the cold-chain, relay and Watchdog alerts', () => {
    for (const name of ['HostDown', 'Watchdog', ...COLD_CHAIN_ALERTS, ...RELAY_ALERTS]) {
      expect(byName.has(name), `${name} missing`).toBe(true);
    }
    expect(byName.get('HostDown')?.labels?.severity).toBe('critical');
    expect(byName.get('Watchdog')?.expr.trim()).toBe('vector(1)');
    expect(byName.get('Watchdog')?.labels?.severity).toBe('none');
  });

  it('have a known severity and summary, description and runbook_url annotations', () => {
    for (const r of rules) {
      expect(['critical', 'warning', 'info', 'none'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, `${r.alert} summary`).toBeTruthy();
      expect(r.annotations?.description, `${r.alert} description`).toBeTruthy();
      // One runbook page per alert, named after it in kebab case.
      const url = r.annotations?.runbook_url ?? '';
      expect(url, r.alert).toMatch(/^https:\/\/runbooks\.coldchain\.example\/[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(url.split('/').pop()?.replaceAll('-', ''), r.alert).toBe(r.alert.toLowerCase());
    }
  });

  it('never template a label: a value in a label makes a new alert per sample', () => {
    for (const r of rules) {
      for (const [k, v] of Object.entries(r.labels ?? {})) {
        expect(v, `${r.alert} label ${k}`).not.toMatch(/\{\{/);
      }
    }
  });

  it('carry team on the cold-chain alerts and the reading as an annotation', () => {
    for (const name of COLD_CHAIN_ALERTS) {
      expect(byName.get(name)?.labels?.team, name).toBeTruthy();
    }
    expect(byName.get('ReeferTemperatureExcursion')?.annotations?.value).toBe('{{ $value }}');
    expect(byName.get('ReeferTemperatureExcursion')?.for).toBe('2m');
  });

  it('label every relay-watching alert component=relay, so Alertmanager routes it around the relay', () => {
    for (const r of rules.filter((r) => r.file.endsWith('relay.yml'))) {
      expect(r.labels?.component, r.alert).toBe('relay');
    }
  });

  it('each have a unit test where they fire and one where they stay quiet', () => {
    const cases = alertRuleTestCases();
    for (const r of rules) {
      const own = cases.filter((c) => c.alertname === r.alert);
      expect(
        own.some((c) => c.expAlerts.length > 0),
        `${r.alert}: no test case where it fires (deploy/monitoring/prometheus/tests)`,
      ).toBe(true);
      // The Watchdog has no quiet state by design.
      if (r.alert !== 'Watchdog') {
        expect(
          own.some((c) => c.expAlerts.length === 0),
          `${r.alert}: no test case where it stays quiet`,
        ).toBe(true);
      }
    }
  });

  it('unit test files load every rule file', () => {
    const loaded = new Set(
      ruleTestFiles().flatMap((f) =>
        (readYaml<{ rule_files: string[] }>(f).rule_files ?? []).map((p) => basename(p)),
      ),
    );
    for (const f of ruleFiles()) expect(loaded.has(basename(f)), `${rel(f)} has no unit tests`).toBe(true);
  });

  it('are loaded by prometheus.yml and evaluated at the scrape interval', () => {
    const config = readYaml<PrometheusConfig>(join(prometheusDir, 'prometheus.yml'));
    expect(config.rule_files).toEqual(['rules/*.yml']);
    expect(config.global.scrape_interval).toBe('15s');
    expect(config.global.evaluation_interval).toBe('15s');
    for (const f of ruleTestFiles())
      expect(readYaml<{ evaluation_interval?: string }>(f).evaluation_interval, rel(f)).toBe('15s');
  });
});
