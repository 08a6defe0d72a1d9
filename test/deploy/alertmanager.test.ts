// Alertmanager config (deploy/monitoring/alertmanager): validity, routing,
// inhibition, and that its labels really match what the Prometheus rules emit.
import { type ChildProcess, execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  type AlertmanagerConfig,
  alertmanagerBinary,
  alertmanagerConfig,
  alertmanagerDir,
  alertRules,
  amtool,
  type ComposeFile,
  firingLabelsByAlert,
  matches,
  monitoringDir,
  readYaml,
  run,
  withTempDir,
} from './support.js';

const config = readYaml<AlertmanagerConfig>(alertmanagerConfig);

function durationSeconds(d: string): number {
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  let total = 0;
  for (const [, n, u] of d.matchAll(/(\d+)([smhd])/g)) total += Number(n) * units[u!]!;
  return total;
}

async function routesTest(labels: Record<string, string>): Promise<string> {
  const args = [
    'config',
    'routes',
    'test',
    `--config.file=${alertmanagerConfig}`,
    ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
  ];
  const r = await run(amtool.path(), args);
  expect(r.code, r.output).toBe(0);
  return r.stdout.trim();
}

describe.skipIf(amtool.skip)('amtool', () => {
  it('check-config accepts alertmanager.yml and its templates', async () => {
    const r = await run(amtool.path(), ['check-config', alertmanagerConfig]);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(/1 templates/);
  });

  it("renders the direct receivers' title and text from an alert's annotations", async () => {
    await withTempDir(async (dir) => {
      // The direct routes group by alertname: one alert name, several channels.
      const alert = (status: string, channel: string) => ({
        status,
        labels: { alertname: 'RelayDeliveriesFailing', severity: 'critical', component: 'relay', channel },
        annotations: {
          summary: `Relay deliveries to ${channel} are failing`,
          description: `${channel} description`,
          runbook_url: 'https://runbooks.coldchain.example/relay-deliveries-failing',
        },
        startsAt: '2024-01-01T00:00:00Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: '',
        fingerprint: channel,
      });
      const data = join(dir, 'data.json');
      await writeFile(
        data,
        JSON.stringify({
          receiver: 'direct-critical',
          status: 'firing',
          alerts: [alert('firing', 'slack'), alert('resolved', 'email')],
          groupLabels: { alertname: 'RelayDeliveriesFailing' },
          commonLabels: { alertname: 'RelayDeliveriesFailing', severity: 'critical', component: 'relay' },
          commonAnnotations: {},
          externalURL: 'http://localhost:9093',
        }),
      );
      const r = await run(amtool.path(), [
        'template',
        'render',
        `--template.glob=${join(alertmanagerDir, 'templates/*.tmpl')}`,
        `--template.data=${data}`,
        '--template.text={{ template "coldchain.direct.title" . }}\n{{ template "coldchain.direct.text" . }}',
      ]);
      expect(r.code, r.output).toBe(0);
      const [title, ...text] = r.stdout.split('\n');
      expect(title).toBe('[FIRING:1] RelayDeliveriesFailing (critical)');
      expect(text.join('\n')).toContain(
        '*Relay deliveries to slack are failing*\nslack description\nRunbook: https://runbooks.coldchain.example/relay-deliveries-failing',
      );
      expect(text.join('\n')).toContain('*RESOLVED: Relay deliveries to email are failing*');
    });
  });

  // amtool's own verification: exits non-zero when the resolved receivers differ.
  it.each([
    [
      'a critical infrastructure alert',
      'relay',
      {
        alertname: 'PostgreSQLDown',
        severity: 'critical',
        team: 'platform',
        instance: 'postgres-exporter:9187',
      },
    ],
    [
      'a warning',
      'relay',
      {
        alertname: 'HighCPUUsage',
        severity: 'warning',
        team: 'platform',
        instance: 'node-exporter:9100',
        host: 'docker-host-1',
      },
    ],
    [
      'an info alert',
      'relay',
      { alertname: 'ShipmentDelivered', severity: 'info', team: 'dispatch', vehicle_id: 'TRK-042' },
    ],
    [
      'a reefer alert',
      'relay',
      {
        alertname: 'ReeferTemperatureExcursion',
        severity: 'critical',
        team: 'dispatch',
        vehicle_id: 'TRK-042',
        zone: 'front',
        shipment_id: 'SHP-1001',
      },
    ],
    [
      'a critical relay-health alert',
      'direct-critical',
      {
        alertname: 'RelayDown',
        severity: 'critical',
        component: 'relay',
        team: 'platform',
        instance: 'relay:8081',
      },
    ],
    [
      'a warning relay-health alert',
      'direct-warning',
      { alertname: 'RelayQueueBacklog', severity: 'warning', component: 'relay', team: 'platform' },
    ],
    [
      "the relay's container",
      'direct-critical',
      {
        alertname: 'ContainerDown',
        severity: 'critical',
        component: 'relay',
        name: 'coldchain-relay',
        host: 'docker-host-1',
      },
    ],
    ['the Watchdog', 'deadmans-switch', { alertname: 'Watchdog', severity: 'none' }],
  ] as const)('routes %s to %s', async (_what, receiver, labels) => {
    const args = [
      'config',
      'routes',
      'test',
      `--config.file=${alertmanagerConfig}`,
      `--verify.receivers=${receiver}`,
      ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
    ];
    const r = await run(amtool.path(), args);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout.trim(), r.output).toBe(receiver);
  });

  it('routes every rule by the labels it really fires with: relay health around the relay, the rest through it', async () => {
    const firing = firingLabelsByAlert();
    const checks = alertRules().map(async (rule) => {
      const labelSets = firing.get(rule.alert) ?? [{ alertname: rule.alert, ...rule.labels }];
      for (const labels of labelSets) {
        const got = await routesTest(labels);
        const want =
          rule.alert === 'Watchdog'
            ? 'deadmans-switch'
            : labels.component === 'relay'
              ? labels.severity === 'critical'
                ? 'direct-critical'
                : 'direct-warning'
              : 'relay';
        expect(got, `${rule.alert} ${JSON.stringify(labels)}`).toBe(want);
      }
    });
    await Promise.all(checks);
  });
});

describe('alertmanager.yml', () => {
  const route = config.route;

  it('keeps repeat_interval a short heartbeat for the relay, with short grouping timers', () => {
    expect(route.receiver).toBe('relay');
    const repeat = durationSeconds(route.repeat_interval ?? '');
    expect(repeat).toBeGreaterThanOrEqual(120);
    expect(repeat).toBeLessThanOrEqual(240);
    expect(durationSeconds(route.group_interval ?? '')).toBe(60);
    const wait = durationSeconds(route.group_wait ?? '');
    expect(wait).toBeGreaterThanOrEqual(10);
    expect(wait).toBeLessThanOrEqual(30);
  });

  it('groups per alert and vehicle', () => {
    expect(route.group_by).toEqual(expect.arrayContaining(['alertname', 'vehicle_id']));
  });

  it('sends the relay resolved alerts, at most 50 per webhook, with a bearer token from a file', () => {
    const relay = config.receivers.find((r) => r.name === 'relay');
    expect(relay?.webhook_configs).toHaveLength(1);
    const hook = relay?.webhook_configs?.[0];
    expect(hook?.url).toBe('http://relay:8081/webhook/alertmanager');
    expect(hook?.send_resolved).toBe(true);
    expect(hook?.max_alerts).toBe(50);
    expect(hook?.http_config?.authorization?.credentials_file).toMatch(/^\/run\/secrets\//);
    expect(hook?.http_config?.authorization?.credentials).toBeUndefined();
  });

  it('delivers critical relay health to #alerts-critical as AlertManager with :fire:, and by email', () => {
    const direct = config.receivers.find((r) => r.name === 'direct-critical');
    expect(direct?.slack_configs?.[0]).toMatchObject({
      channel: '#alerts-critical',
      username: 'AlertManager',
      icon_emoji: ':fire:',
      send_resolved: true,
    });
    expect(direct?.email_configs?.[0]?.to).toBeTruthy();
    expect(config.global.slack_api_url_file).toBeTruthy();
    expect(config.global.slack_api_url).toBeUndefined();
  });

  it('reads every secret from a file that docker compose mounts into the Alertmanager container', () => {
    const compose = readYaml<ComposeFile>(join(monitoringDir, 'docker-compose.monitoring.yml'));
    const mounted = new Set(compose.services.alertmanager?.secrets);
    const referenced = [...JSON.stringify(config).matchAll(/\/run\/secrets\/([a-z0-9_-]+)/g)].map(
      (m) => m[1]!,
    );
    expect(referenced.length).toBeGreaterThan(0);
    for (const name of referenced) {
      expect(mounted.has(name), `secret ${name} is not mounted in the alertmanager service`).toBe(true);
      expect(compose.secrets[name]?.file, `secret ${name} has no file`).toMatch(/^\.\/secrets\//);
    }
  });

  // Inhibition silently does nothing when an `equal` label is missing from the
  // alerts, so check them against the labels the rules really produce (pinned by
  // the promtool unit tests) for every rule whose source is a specific alert.
  it('inhibits only on labels that both the source and the target alerts carry', () => {
    const firing = firingLabelsByAlert();
    const specific = config.inhibit_rules.filter((r) =>
      r.source_matchers.some((m) => m.startsWith('alertname')),
    );
    expect(specific.length).toBeGreaterThanOrEqual(4);
    for (const rule of specific) {
      const sources = [...firing.values()].flat().filter((l) => matches(l, rule.source_matchers));
      const targets = [...firing.values()].flat().filter((l) => matches(l, rule.target_matchers));
      const what = JSON.stringify(rule.source_matchers);
      expect(sources.length, `${what}: no rule fires as the source`).toBeGreaterThan(0);
      expect(targets.length, `${what}: no rule fires as a target`).toBeGreaterThan(0);
      for (const label of rule.equal ?? []) {
        for (const l of [...sources, ...targets])
          expect(l[label], `${what}: ${l.alertname} lacks ${label}`).toBeTruthy();
      }
    }
  });
});

// A real Alertmanager with this config's route and inhibit rules (receivers
// emptied so it sends nothing), fed the alerts as the rules produce them.
describe.skipIf(alertmanagerBinary.skip)('alertmanager inhibition, live', () => {
  let child: ChildProcess | undefined;
  let stopped: Promise<void> | undefined;
  let base = '';

  beforeAll(async () => {
    const binary = alertmanagerBinary.path();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    let started!: () => void;
    let failed!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => {
      started = res;
      failed = rej;
    });
    // The temp dir lives until Alertmanager has exited (afterAll awaits it).
    stopped = withTempDir(async (dir) => {
      const file = join(dir, 'alertmanager.yml');
      await writeFile(
        file,
        stringify({
          route: config.route,
          inhibit_rules: config.inhibit_rules,
          receivers: config.receivers.map((r) => ({ name: r.name })),
        }),
      );
      let log = '';
      const exited = new Promise<void>((res) => {
        child = execFile(
          binary,
          [
            `--config.file=${file}`,
            `--storage.path=${join(dir, 'data')}`,
            `--web.listen-address=127.0.0.1:${port}`,
            '--cluster.listen-address=',
            '--log.level=warn',
          ],
          { maxBuffer: 16 * 1024 * 1024 },
          (_error, stdout, stderr) => {
            log = stdout + stderr;
            res();
          },
        );
      });
      let running = true;
      void exited.then(() => {
        running = false;
      });
      try {
        await waitFor(async () => {
          if (!running) throw new Error(`alertmanager exited: ${log}`);
          return (await fetch(`${base}/-/ready`)).ok;
        }, 10_000);
        started();
      } catch (e) {
        child?.kill('SIGTERM');
        failed(e);
      }
      await exited;
    });
    await ready;
  }, 15_000);

  afterAll(async () => {
    child?.kill('SIGTERM');
    await stopped;
  });

  it('applies each inhibit rule to the matching alert only', async () => {
    const firing = firingLabelsByAlert();
    const as = (alertname: string, overrides: Record<string, string> = {}) => ({
      ...firing.get(alertname)![0]!,
      ...overrides,
    });

    const inhibited = [
      as('ContainerDown'), // HostDown on the same host
      as('PostgreSQLSlowQueries'), // PostgreSQLDown on the same instance
      as('PostgreSQLTooManyConnections'),
      as('ReeferTelemetryMissing'), // TelemetryIngestDown
      as('RelayDeadLettersGrowing', { channel: 'slack' }), // RelayDeliveriesFailing on slack
      // The same alert at warning, same vehicle: the critical one pages.
      as('ReeferTemperatureExcursion', { severity: 'warning' }),
    ];
    const notInhibited = [
      as('ContainerDown', { host: 'docker-host-2', name: 'coldchain-grafana' }),
      as('PostgreSQLSlowQueries', { instance: 'postgres-exporter-replica:9187' }),
      as('RelayDeadLettersGrowing', { channel: 'email' }),
      as('ReeferTemperatureExcursion', { severity: 'warning', vehicle_id: 'TRK-007' }),
    ];
    const sources = [
      as('HostDown'),
      as('PostgreSQLDown'),
      as('TelemetryIngestDown'),
      as('RelayDeliveriesFailing', { channel: 'slack' }),
      as('ReeferTemperatureExcursion'),
    ];
    const all = [...sources, ...inhibited, ...notInhibited];
    const post = await fetch(`${base}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(all.map((labels) => ({ labels }))),
    });
    expect(post.status).toBe(200);

    const key = (l: Record<string, string>) => JSON.stringify(Object.entries(l).sort());
    let states = new Map<string, boolean>();
    await waitFor(async () => {
      const response = await fetch(`${base}/api/v2/alerts`);
      const got = (await response.json()) as {
        labels: Record<string, string>;
        status: { inhibitedBy: string[] };
      }[];
      states = new Map(got.map((a) => [key(a.labels), a.status.inhibitedBy.length > 0]));
      return all.every((l) => states.has(key(l))) && inhibited.every((l) => states.get(key(l)));
    }, 5_000).catch(() => undefined);

    for (const l of inhibited)
      expect(states.get(key(l)), `${l.alertname} ${JSON.stringify(l)} should be inhibited`).toBe(true);
    for (const l of [...notInhibited, ...sources])
      expect(states.get(key(l)), `${l.alertname} ${JSON.stringify(l)} should not be inhibited`).toBe(false);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}
