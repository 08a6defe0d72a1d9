// Grafana provisioning and dashboards (deploy/monitoring/grafana).
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  type ComposeFile,
  listFiles,
  monitoringDir,
  promtool,
  readYaml,
  run,
  withTempDir,
} from './support.js';

const grafanaDir = join(monitoringDir, 'grafana');
const dashboardFiles = listFiles(join(grafanaDir, 'dashboards'), '.json');
const PROMETHEUS = { type: 'prometheus', uid: 'prometheus' };

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: unknown;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr?: string; datasource?: unknown; refId: string }[];
  panels?: Panel[];
}

interface Dashboard {
  uid: string;
  title: string;
  time?: { from: string; to: string };
  timepicker?: { hidden?: boolean };
  templating?: { list: { name: string; type: string; datasource?: unknown; definition?: string }[] };
  panels: Panel[];
}

function load(file: string): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Top-level panels plus those nested in collapsed rows. */
function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Grafana's variables become plain PromQL: ranges to 5m, selections to any value. */
function toPromQL(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g, '5m')
    .replace(/\$\{\w+(:\w+)?\}|\$\w+/g, '.*');
}

describe('grafana provisioning', () => {
  it('provisions Prometheus under the uid every panel refers to', () => {
    const ds = readYaml<{ datasources: Record<string, unknown>[] }>(
      join(grafanaDir, 'provisioning/datasources/prometheus.yml'),
    );
    expect(ds.datasources).toHaveLength(1);
    expect(ds.datasources[0]).toMatchObject({
      uid: 'prometheus',
      type: 'prometheus',
      url: 'http://prometheus:9090',
    });
  });

  it('loads dashboards from the folder docker compose mounts', () => {
    const { providers } = readYaml<{ providers: { options: { path: string } }[] }>(
      join(grafanaDir, 'provisioning/dashboards/dashboards.yml'),
    );
    expect(providers).toHaveLength(1);
    const volumes = readYaml<ComposeFile>(join(monitoringDir, 'docker-compose.monitoring.yml')).services
      .grafana?.volumes;
    expect(volumes).toContain(`./grafana/dashboards:${providers[0]?.options.path}:ro`);
    expect(volumes).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
  });
});

describe('dashboards', () => {
  it('are the six of the monitoring guide plus the relay', () => {
    const titles = dashboardFiles.map((f) => load(f).title);
    for (const topic of [
      'System overview',
      'Application performance',
      'Database',
      'Cache',
      'Containers',
      'Alert status',
      'Alert relay',
    ]) {
      expect(
        titles.some((t) => t.includes(topic)),
        `no dashboard for ${topic}`,
      ).toBe(true);
    }
  });

  it('have distinct uids', () => {
    const uids = dashboardFiles.map((f) => load(f).uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  describe.each(dashboardFiles.map((f) => [basename(f), f]))('%s', (_name, file) => {
    const dashboard = load(file);
    const panels = allPanels(dashboard);

    it('has a title, a uid, a time range and a visible time picker', () => {
      expect(dashboard.title).toBeTruthy();
      expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
      expect(dashboard.time?.from).toBeTruthy();
      expect(dashboard.timepicker?.hidden ?? false).toBe(false);
    });

    it('queries only the provisioned Prometheus, in every panel, target and variable', () => {
      expect(panels.length).toBeGreaterThan(0);
      for (const p of panels) {
        expect(p.datasource, `panel "${p.title}"`).toEqual(PROMETHEUS);
        for (const t of p.targets ?? [])
          expect(t.datasource ?? p.datasource, `panel "${p.title}" target ${t.refId}`).toEqual(PROMETHEUS);
      }
      for (const v of dashboard.templating?.list ?? []) {
        if (v.type === 'query') expect(v.datasource, `variable ${v.name}`).toEqual(PROMETHEUS);
      }
    });

    it('has unique panel ids and panels inside the 24-column grid', () => {
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    });

    it('puts key stats first (overview before detail)', () => {
      const content = panels.filter((p) => p.type !== 'row');
      const top = Math.min(...content.map((p) => p.gridPos.y));
      const first = content.filter((p) => p.gridPos.y === top);
      for (const p of first) expect(['stat', 'gauge', 'bargauge'], p.title).toContain(p.type);
    });

    it('has a query in every non-row panel', () => {
      for (const p of panels.filter((p) => p.type !== 'row')) {
        expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
        for (const t of p.targets ?? []) expect(t.expr, `${p.title} ${t.refId}`).toBeTruthy();
      }
    });
  });
});

describe.skipIf(promtool.skip)('dashboard queries', () => {
  // promtool has no "check expression"; as recording rules they get the same parser.
  it('all parse as PromQL', async () => {
    const rules: { record: string; expr: string }[] = [];
    const origin: string[] = [];
    for (const file of dashboardFiles) {
      const dashboard = load(file);
      for (const p of allPanels(dashboard)) {
        for (const t of p.targets ?? []) {
          if (!t.expr) continue;
          rules.push({ record: `dash:expr_${rules.length}`, expr: toPromQL(t.expr) });
          origin.push(`${basename(file)} "${p.title}" ${t.refId}`);
        }
      }
      // label_values(<selector>, <label>): the selector is PromQL too.
      for (const v of dashboard.templating?.list ?? []) {
        const selector = /^label_values\((.+),\s*\w+\)$/.exec(v.definition ?? '')?.[1];
        if (!selector) continue;
        rules.push({ record: `dash:expr_${rules.length}`, expr: toPromQL(selector) });
        origin.push(`${basename(file)} variable ${v.name}`);
      }
    }
    expect(rules.length).toBeGreaterThan(50);
    await withTempDir(async (dir) => {
      const file = join(dir, 'dashboards.rules.yml');
      await writeFile(file, stringify({ groups: [{ name: 'dashboards', rules }] }));
      const r = await run(promtool.path(), ['check', 'rules', '--lint=none', file]);
      // Map promtool's "rule N" back to the panel it came from.
      const explained = r.output.replace(/rule (\d+)/g, (m, n) => `${m} (${origin[Number(n) - 1] ?? '?'})`);
      expect(r.code, explained).toBe(0);
      expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    });
  });
});
