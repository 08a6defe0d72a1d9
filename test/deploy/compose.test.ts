// docker-compose.monitoring.yml, .env.example, the relay's Dockerfile and
// .dockerignore. No Docker engine here: structure and cross-file consistency are
// checked statically, and the image's healthcheck command is run against a stub.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ComposeFile,
  type ComposeService,
  monitoringDir,
  type PrometheusConfig,
  prometheusDir,
  readYaml,
  repoRoot,
  run,
} from './support.js';

const composeFile = join(monitoringDir, 'docker-compose.monitoring.yml');
const compose = readYaml<ComposeFile>(composeFile);
const services = compose.services;
/** A service the assertions below rely on; fails loudly when it is missing. */
function service(name: string): ComposeService {
  const svc = services[name];
  if (!svc) throw new Error(`no service ${name} in docker-compose.monitoring.yml`);
  return svc;
}
const envExample = readFileSync(join(monitoringDir, '.env.example'), 'utf8');
const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');

// Published ports of the monitoring guide, host:container.
const GUIDE_PORTS: Record<string, string> = {
  prometheus: '9090:9090',
  alertmanager: '9093:9093',
  grafana: '3001:3000',
  'node-exporter': '9100:9100',
  cadvisor: '8080:8080',
  'postgres-exporter': '9187:9187',
  'redis-exporter': '9121:9121',
  relay: '8081:8081',
};

describe('docker-compose.monitoring.yml', () => {
  it('names every container coldchain-<service>', () => {
    for (const [name, svc] of Object.entries(services))
      expect(svc.container_name, name).toBe(`coldchain-${name}`);
  });

  it('pins every image to a version', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.build) continue;
      expect(svc.image, name).toMatch(/:v?\d+\.\d+\.\d+(-[a-z0-9.]+)?$/);
    }
  });

  it("publishes the guide's ports", () => {
    for (const [name, port] of Object.entries(GUIDE_PORTS))
      expect(services[name]?.ports, name).toContain(port);
  });

  it('keeps 30 days of metrics and lets Prometheus reload over HTTP', () => {
    const cmd = service('prometheus').command;
    expect(cmd).toContain('--storage.tsdb.retention.time=30d');
    expect(cmd).toContain('--web.enable-lifecycle');
    expect(cmd).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(service('prometheus').volumes).toContain('./prometheus:/etc/prometheus:ro');
    expect(service('alertmanager').command).toContain('--config.file=/etc/alertmanager/alertmanager.yml');
    expect(service('alertmanager').volumes).toContain('./alertmanager:/etc/alertmanager:ro');
  });

  it('takes the Grafana admin from the environment and turns anonymous access off', () => {
    const env = service('grafana').environment ?? {};
    expect(env.GF_SECURITY_ADMIN_USER).toMatch(/^\$\{GRAFANA_ADMIN_USER[:?}]/);
    expect(env.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD[:?}]/);
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
  });

  it('builds the relay from the repository Dockerfile and starts it after a healthy Redis', () => {
    const relay = service('relay');
    expect(resolve(monitoringDir, relay.build?.context ?? '')).toBe(repoRoot);
    expect(existsSync(join(repoRoot, relay.build?.dockerfile ?? 'Dockerfile'))).toBe(true);
    const env = relay.environment ?? {};
    expect(env.REDIS_URL).toBe('redis://relay-redis:6379');
    expect(env.PORT).toBe('8081');
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.RELAY_WEBHOOK_TOKEN).toMatch(/^\$\{RELAY_WEBHOOK_TOKEN/);
    expect(relay.depends_on).toEqual({ 'relay-redis': { condition: 'service_healthy' } });
    expect(relay.healthcheck?.test).toBeDefined();
    expect(service('relay-redis').healthcheck?.test).toBeDefined();
  });

  it("runs the relay's Redis with AOF, noeviction and a volume", () => {
    const redis = service('relay-redis');
    const cmd = (redis.command ?? []).join(' ');
    expect(cmd).toMatch(/--appendonly yes/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
  });

  it('mounts only files and folders that exist in the repository', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const v of svc.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('./'))
          expect(existsSync(join(monitoringDir, source)), `${name}: ${source}`).toBe(true);
      }
    }
    // The secret files themselves are created per deployment; their folder is kept.
    expect(existsSync(join(monitoringDir, 'secrets/.gitignore'))).toBe(true);
    for (const s of Object.values(compose.secrets)) expect(s.file).toMatch(/^\.\/secrets\/[a-z0-9-]+$/);
  });

  it('documents in .env.example every variable it interpolates', () => {
    // From the parsed file, so a ${VAR} in a comment does not count.
    const used = new Set([...JSON.stringify(compose).matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
    expect(used.size).toBeGreaterThan(10);
    for (const v of used)
      expect(envExample, `${v} is not in .env.example`).toMatch(new RegExp(`^#? ?${v}=`, 'm'));
  });

  it('scrapes, from Prometheus, services that exist under the ports they listen on', () => {
    const prometheus = readYaml<PrometheusConfig>(join(prometheusDir, 'prometheus.yml'));
    const external = new Set(['localhost', 'coldchain-backend', 'coldchain-telemetry-ingest']);
    const targets = [
      ...prometheus.scrape_configs.flatMap((j) => (j.static_configs ?? []).flatMap((s) => s.targets)),
      ...prometheus.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets)),
    ];
    for (const target of targets) {
      const [host = '', port] = target.split(':');
      if (external.has(host)) continue;
      const svc = services[host];
      expect(svc, `${target}: no such compose service`).toBeDefined();
      const published = svc?.ports?.[0]?.split(':').pop();
      if (published) expect(port, target).toBe(published);
    }
  });
});

describe('.env.example', () => {
  it('lists the monitoring and relay variables', () => {
    for (const v of [
      'GRAFANA_ADMIN_USER',
      'GRAFANA_ADMIN_PASSWORD',
      'DB_USER',
      'DB_PASSWORD',
      'DB_NAME',
      'REDIS_PASSWORD',
      'RELAY_WEBHOOK_TOKEN',
      'RELAY_ONCALL_EMAIL',
      'RELAY_ACK_SECRET',
      'SLACK_BOT_TOKEN',
      'SLACK_SIGNING_SECRET',
      'SMTP_URL',
      'EMAIL_FROM',
      'ALERTMANAGER_URL',
      'PUBLIC_URL',
      'LOG_LEVEL',
    ]) {
      expect(envExample, v).toMatch(new RegExp(`^${v}=`, 'm'));
    }
    expect(envExample).toMatch(/^ALERTMANAGER_URL=http:\/\/alertmanager:9093$/m);
  });

  it('is kept apart from the real .env, which git ignores', () => {
    expect(readFileSync(join(monitoringDir, '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
  });
});

/** Dockerfile instructions, continuation lines joined. */
function instructions(): string[] {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

describe('Dockerfile', () => {
  const lines = instructions();
  const index = (re: RegExp) => lines.findIndex((l) => re.test(l));

  it('builds in stages on node:20-bookworm-slim', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^FROM \$\{NODE_IMAGE\} AS [a-z-]+$/);
  });

  it('installs from the lockfile, compiles, and ships production dependencies only', () => {
    expect(index(/^COPY package\.json package-lock\.json/)).toBeGreaterThan(-1);
    expect(index(/^RUN npm ci\b(?!.*--omit=dev)/)).toBeGreaterThan(-1);
    expect(index(/^RUN npm run build/)).toBeGreaterThan(-1);
    expect(index(/^RUN npm ci .*--omit=dev/)).toBeGreaterThan(-1);
    for (const what of ['dist', 'templates', 'config'])
      expect(index(new RegExp(`^COPY .*\\b${what} \\./${what}$`)), what).toBeGreaterThan(-1);
    expect(index(/^COPY package\.json \.\/$/)).toBeGreaterThan(-1);
  });

  it('runs node dist/main.js as the node user under tini, on 8081', () => {
    const user = index(/^USER node$/);
    expect(user).toBeGreaterThan(-1);
    expect(user).toBeGreaterThan(index(/apt-get install .*tini/));
    expect(lines.slice(user).some((l) => l.startsWith('RUN '))).toBe(false);
    expect(lines).toContain('ENV NODE_ENV=production HOST=0.0.0.0 PORT=8081');
    expect(lines).toContain('EXPOSE 8081');
    expect(lines).toContain('ENTRYPOINT ["/usr/bin/tini", "--"]');
    expect(lines[lines.length - 1]).toBe('CMD ["node", "--optimize-for-size", "dist/main.js"]');
  });

  it('leaves build noise and secrets out of the context', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', 'outbox', '.git', 'coverage', 'test', '*.log', '.env'])
      expect(ignored, entry).toContain(entry);
  });
});

/** The exec-form command of the image's HEALTHCHECK and of the compose service. */
function healthchecks(): [string, string[]][] {
  const line = instructions().find((l) => l.startsWith('HEALTHCHECK '))!;
  const image = JSON.parse(line.slice(line.indexOf('CMD ') + 4)) as string[];
  const svc = service('relay').healthcheck?.test ?? [];
  return [
    ['Dockerfile HEALTHCHECK', image],
    ['compose relay healthcheck', svc[0] === 'CMD' ? svc.slice(1) : svc],
  ];
}

describe.each(healthchecks())('%s', (_where, command) => {
  let server: Server;
  let port = 0;
  let status = 200;

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? status : 404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const probe = () => {
    expect(command[0]).toBe('node');
    return run(process.execPath, command.slice(1), {
      env: { ...process.env, PORT: String(port) },
      timeoutMs: 10_000,
    });
  };

  it('uses node itself (the slim image has no curl) and passes on a 200 from /healthz', async () => {
    status = 200;
    const r = await probe();
    expect(r.code, r.output).toBe(0);
  });

  it('fails on an error status', async () => {
    status = 503;
    const r = await probe();
    expect(r.code, r.output).toBe(1);
  });

  it('fails when nothing listens', async () => {
    const r = await run(process.execPath, command.slice(1), {
      env: { ...process.env, PORT: '1' },
      timeoutMs: 10_000,
    });
    expect(r.code, r.output).toBe(1);
  });
});
