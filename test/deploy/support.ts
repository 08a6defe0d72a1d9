// Shared helpers for the checks of deploy/ (Dockerfile, monitoring stack).
import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const monitoringDir = join(repoRoot, 'deploy/monitoring');
export const prometheusDir = join(monitoringDir, 'prometheus');
export const alertmanagerDir = join(monitoringDir, 'alertmanager');
export const alertmanagerConfig = join(alertmanagerDir, 'alertmanager.yml');

/** Parses a YAML (or JSON) file into the shape the caller describes; the assertions check it. */
export function readYaml<T>(path: string): T {
  return parse(readFileSync(path, 'utf8')) as T;
}

// The parts of each config file that the checks read.

export interface PrometheusConfig {
  global: { scrape_interval: string; evaluation_interval: string };
  rule_files: string[];
  scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[];
  alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
}

export interface AlertmanagerRoute {
  receiver: string;
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  matchers?: string[];
  routes?: AlertmanagerRoute[];
}

export interface AlertmanagerConfig {
  global: Record<string, unknown>;
  route: AlertmanagerRoute;
  inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal?: string[] }[];
  receivers: {
    name: string;
    webhook_configs?: {
      url: string;
      send_resolved?: boolean;
      max_alerts?: number;
      http_config?: { authorization?: { credentials?: string; credentials_file?: string } };
    }[];
    slack_configs?: Record<string, unknown>[];
    email_configs?: { to?: string }[];
  }[];
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  container_name?: string;
  command?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  secrets?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  secrets: Record<string, { file: string }>;
}

export function listFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

function findOnPath(names: readonly string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const name of names) {
    for (const dir of dirs) {
      if (!dir) continue;
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

export interface ExternalTool {
  /** true when the tool is missing and SKIP_E2E=1 asks to skip rather than fail */
  readonly skip: boolean;
  /** the executable's path; throws a message naming the Debian package when missing */
  path(): string;
}

/**
 * Locates a tool the checks shell out to. Missing tools fail the tests with the
 * package to install, unless SKIP_E2E=1, which skips them instead.
 */
export function externalTool(names: readonly string[], debianPackage: string): ExternalTool {
  const found = findOnPath(names);
  const skip = found === undefined && process.env.SKIP_E2E === '1';
  return {
    skip,
    path() {
      if (found === undefined) {
        throw new Error(
          `${names[0]} is not installed: run \`apt-get install -y ${debianPackage}\` ` +
            '(Debian/Ubuntu), or set SKIP_E2E=1 to skip the checks that need it.',
        );
      }
      return found;
    },
  };
}

export const promtool = externalTool(['promtool'], 'prometheus');
export const amtool = externalTool(['amtool'], 'prometheus-alertmanager');
// Debian installs the server as prometheus-alertmanager, upstream as alertmanager.
export const alertmanagerBinary = externalTool(
  ['alertmanager', 'prometheus-alertmanager'],
  'prometheus-alertmanager',
);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for assertion messages */
  output: string;
}

export function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd ?? repoRoot,
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 20_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolvePromise({ code, stdout, stderr, output: `$ ${file} ${args.join(' ')}\n${stdout}${stderr}` });
      },
    );
  });
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'coldchain-deploy-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// --- Prometheus rules and their unit tests, parsed once.

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  file: string;
}

export function ruleFiles(): string[] {
  return listFiles(join(prometheusDir, 'rules'), '.yml');
}

export function ruleTestFiles(): string[] {
  return listFiles(join(prometheusDir, 'tests'), '.yml');
}

export function alertRules(): AlertRule[] {
  return ruleFiles().flatMap((file) =>
    (readYaml<{ groups: { rules?: Omit<AlertRule, 'file'>[] }[] }>(file).groups ?? []).flatMap((g) =>
      (g.rules ?? []).filter((r) => 'alert' in r).map((r) => ({ ...r, file })),
    ),
  );
}

export interface AlertRuleTestCase {
  alertname: string;
  evalTime: string;
  expAlerts: { exp_labels?: Record<string, string> }[];
  file: string;
  testName: string;
}

interface RuleUnitTest {
  name: string;
  alert_rule_test?: {
    alertname: string;
    eval_time: string;
    exp_alerts?: { exp_labels?: Record<string, string> }[];
  }[];
}

export function alertRuleTestCases(): AlertRuleTestCase[] {
  return ruleTestFiles().flatMap((file) =>
    (readYaml<{ tests?: RuleUnitTest[] }>(file).tests ?? []).flatMap((t) =>
      (t.alert_rule_test ?? []).map((c) => ({
        alertname: c.alertname,
        evalTime: String(c.eval_time),
        expAlerts: c.exp_alerts ?? [],
        file,
        testName: t.name,
      })),
    ),
  );
}

/**
 * The labels each alert really carries when it fires, as pinned by the promtool
 * unit tests (promtool checks them exactly), with alertname added.
 */
export function firingLabelsByAlert(): Map<string, Record<string, string>[]> {
  const byAlert = new Map<string, Record<string, string>[]>();
  for (const c of alertRuleTestCases()) {
    for (const a of c.expAlerts) {
      const list = byAlert.get(c.alertname) ?? [];
      list.push({ ...(a.exp_labels ?? {}), alertname: c.alertname });
      byAlert.set(c.alertname, list);
    }
  }
  return byAlert;
}

/** Alertmanager's matcher syntax as used in this repo: name op "value". */
export function parseMatcher(m: string): { name: string; op: '=' | '!=' | '=~' | '!~'; value: string } {
  const match = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$/.exec(m);
  if (!match) throw new Error(`cannot parse matcher ${m}`);
  return { name: match[1]!, op: match[2] as '=' | '!=' | '=~' | '!~', value: match[3]! };
}

export function matches(labels: Record<string, string>, matchers: readonly string[]): boolean {
  return matchers.every((raw) => {
    const { name, op, value } = parseMatcher(raw);
    const actual = labels[name] ?? '';
    const re = new RegExp(`^(?:${value})$`);
    if (op === '=') return actual === value;
    if (op === '!=') return actual !== value;
    return op === '=~' ? re.test(actual) : !re.test(actual);
  });
}
