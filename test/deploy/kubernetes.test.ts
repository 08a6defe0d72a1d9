/**
 * deploy/kubernetes/: parsed with the `yaml` package and checked for the fields that matter: the image and
 * role of each Deployment, probes on the relay's endpoints, resource requests, the environment (only names
 * the relay reads, Sentinel wiring instead of REDIS_URL, secrets from the Secret), selectors that match the
 * pod labels, the HPA on a metric the relay exports. No schema download: kubectl is not needed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig, parsePolicy } from '../../src/config/config.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { repoRoot } from './support.js';

const dir = join(repoRoot, 'deploy/kubernetes');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  file: string;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

const manifests: Manifest[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => {
      expect(doc.errors, `${file}: ${doc.errors.join('; ')}`).toEqual([]);
      return { ...(doc.toJS() as Omit<Manifest, 'file'>), file };
    }),
  );

function find(kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return found;
}

const relayEnv = find('ConfigMap', 'relay-env').data ?? {};
const secret = find('Secret', 'relay-secrets');
const deployments = { api: find('Deployment', 'relay-api'), worker: find('Deployment', 'relay-worker') };

/** Every variable a container of a relay Deployment gets: the ConfigMap's, then its own. */
function environment(deployment: Manifest): Map<string, EnvVar> {
  const container = deployment.spec.template.spec.containers[0];
  const env = new Map<string, EnvVar>();
  for (const from of container.envFrom ?? []) {
    const source = find('ConfigMap', from.configMapRef.name).data ?? {};
    for (const [name, value] of Object.entries(source)) env.set(name, { name, value });
  }
  for (const item of container.env as EnvVar[]) env.set(item.name, item);
  return env;
}

/** The values a pod would see, secrets taken from secret.example.yaml. */
function plainEnv(env: Map<string, EnvVar>): Record<string, string> {
  return Object.fromEntries(
    [...env.values()].map((v) => {
      const key = v.valueFrom?.secretKeyRef?.key;
      return [v.name, v.value ?? (key === undefined ? '' : (secret.stringData?.[key] ?? ''))];
    }),
  );
}

/** The names the relay reads (README "Configuration"; DESIGN.md §Interface). */
const RELAY_VARIABLES = new Set([
  'PORT',
  'HOST',
  'REDIS_URL',
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_NAME',
  'REDIS_SENTINEL_PASSWORD',
  'REDIS_MIN_REPLICAS',
  'RELAY_CONFIG',
  'RELAY_ROLE',
  'RELAY_WEBHOOK_TOKEN',
  'RELAY_MAX_BODY_BYTES',
  'RELAY_OUTBOX_DIR',
  'RELAY_ONCALL_EMAIL',
  'RELAY_ACK_SECRET',
  'SLACK_BOT_TOKEN',
  'SLACK_API_URL',
  'SLACK_SIGNING_SECRET',
  'SMTP_URL',
  'EMAIL_FROM',
  'ALERTMANAGER_URL',
  'CONTEXT_API_URL',
  'PUBLIC_URL',
  'LOG_LEVEL',
]);

describe('deploy/kubernetes', () => {
  it.each(Object.entries(deployments))(
    'the %s Deployment runs the relay image in its role',
    (role, deployment) => {
      const { containers } = deployment.spec.template.spec;
      expect(containers).toHaveLength(1);
      expect(containers[0].image).toMatch(/^[\w./-]*coldchain-alert-relay:[\w.-]+$/);
      expect(containers[0].image).not.toMatch(/:latest$/);
      expect(containers[0].image).toBe(deployments.api.spec.template.spec.containers[0].image);
      // The production start, as the Dockerfile's CMD.
      expect(containers[0].args ?? containers[0].command).toEqual([
        'node',
        '--optimize-for-size',
        'dist/main.js',
      ]);
      expect(environment(deployment).get('RELAY_ROLE')?.value).toBe(role);
      expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    },
  );

  it.each(Object.entries(deployments))(
    'the %s Deployment probes /healthz and /readyz on the relay port',
    (_, deployment) => {
      const container = deployment.spec.template.spec.containers[0];
      const port = Number(environment(deployment).get('PORT')?.value);
      const named = container.ports.find((p: { name: string }) => p.name === 'http');
      expect(named.containerPort).toBe(port);
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.resources.requests.cpu).toBeTruthy();
      expect(container.resources.requests.memory).toBeTruthy();
      // The relay's graceful shutdown (shutdown_grace, 20 s in relay-policy) must fit in the pod's grace period.
      const grace = parsePolicy(find('ConfigMap', 'relay-policy').data!['policy.yaml']!, 'relay-policy')
        .delivery.shutdown_grace;
      expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(grace);
    },
  );

  it.each(Object.entries(deployments))(
    'the %s Deployment has an environment the relay accepts, through Sentinel',
    (_, deployment) => {
      const env = environment(deployment);
      for (const name of env.keys()) expect(RELAY_VARIABLES, `unknown variable ${name}`).toContain(name);
      expect(env.has('REDIS_URL')).toBe(false);
      for (const item of env.values()) {
        const ref = item.valueFrom?.secretKeyRef;
        if (!ref) continue;
        expect(ref.name).toBe('relay-secrets');
        expect(Object.keys(secret.stringData ?? {}), `secret key ${ref.key}`).toContain(ref.key);
      }
      // Secrets never sit in the ConfigMap.
      for (const name of ['RELAY_WEBHOOK_TOKEN', 'SLACK_BOT_TOKEN', 'SMTP_URL', 'REDIS_SENTINEL_PASSWORD']) {
        expect(relayEnv[name], name).toBeUndefined();
      }
      // The relay's own parser accepts it (the policy is the ConfigMap's, written to a temporary path by loadConfig's caller).
      const config = loadConfig({ ...plainEnv(env), RELAY_CONFIG: '' });
      expect(config.redis.kind).toBe('sentinel');
      expect(config.redisMinReplicas).toBeGreaterThanOrEqual(1);
    },
  );

  it('wires the relay to the sentinels of the Redis StatefulSet and the master name they monitor', () => {
    const redis = find('StatefulSet', 'redis');
    const service = find('Service', redis.spec.serviceName);
    expect(service.spec.clusterIP).toBe('None');
    const config = loadConfig({ ...plainEnv(environment(deployments.api)), RELAY_CONFIG: '' });
    if (config.redis.kind !== 'sentinel') throw new Error('not Sentinel');
    const pods = Array.from(
      { length: redis.spec.replicas },
      (_, i) => `${redis.metadata.name}-${i}.${service.metadata.name}`,
    );
    expect(config.redis.sentinels.map((s) => s.host)).toEqual(pods);
    const sentinelPort = service.spec.ports.find((p: { name: string }) => p.name === 'sentinel').port;
    for (const s of config.redis.sentinels) expect(s.port).toBe(sentinelPort);
    const scripts = find('ConfigMap', 'redis-scripts').data ?? {};
    expect(scripts['sentinel.sh']).toContain(`sentinel monitor ${config.redis.name} $master 6379 2`);
    expect(scripts['find-master.sh']).toContain(`get-master-addr-by-name ${config.redis.name}`);
    // Production Redis settings the relay requires.
    expect(scripts['redis.sh']).toMatch(/--appendonly yes/);
    expect(scripts['redis.sh']).toMatch(/--maxmemory-policy noeviction/);
    // One password, from the same Secret key as the relay's REDIS_SENTINEL_PASSWORD.
    for (const container of redis.spec.template.spec.containers) {
      expect(container.env).toContainEqual({
        name: 'REDIS_PASSWORD',
        valueFrom: { secretKeyRef: { name: 'relay-secrets', key: 'redis-password' } },
      });
    }
  });

  it('has selectors that match the labels of the pods they mean', () => {
    const labelsOf = (m: Manifest) => m.spec.template.metadata.labels as Record<string, string>;
    const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    for (const m of manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet')) {
      expect(matches(m.spec.selector.matchLabels, labelsOf(m)), `${m.kind} ${m.metadata.name}`).toBe(true);
    }
    const relayService = find('Service', 'relay');
    expect(matches(relayService.spec.selector, labelsOf(deployments.api))).toBe(true);
    expect(matches(relayService.spec.selector, labelsOf(deployments.worker))).toBe(false);
    const podSets = manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet');
    for (const pdb of manifests.filter((m) => m.kind === 'PodDisruptionBudget')) {
      const covered = podSets.filter((m) => matches(pdb.spec.selector.matchLabels, labelsOf(m)));
      expect(
        covered.map((m) => m.metadata.name),
        `PodDisruptionBudget ${pdb.metadata.name}`,
      ).toHaveLength(1);
    }
    expect(
      manifests
        .filter((m) => m.kind === 'PodDisruptionBudget')
        .map((m) => m.metadata.name)
        .sort(),
    ).toEqual(['redis', 'relay-api', 'relay-worker']);
  });

  it('scales the workers on queue depth, from a metric the relay exports', async () => {
    const hpa = find('HorizontalPodAutoscaler', 'relay-worker');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'relay-worker',
    });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    const exported = (await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map(
      (m) => m.name,
    );
    for (const metric of hpa.spec.metrics) {
      const name = metric.external?.metric.name ?? metric.pods?.metric.name;
      expect(exported, `HPA metric ${name}`).toContain(name);
    }
    const adapter = find('ConfigMap', 'prometheus-adapter-relay-rules').data!['external-rules.yaml']!;
    expect(adapter).toContain('relay_queue_jobs');
  });
});
