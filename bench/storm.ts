/**
 * `npm run bench:storm`: 30 distinct critical incidents posted at once for one Slack channel, against the
 * fake Slack server enforcing one message per second per channel (chat.postMessage and chat.update alike,
 * answering 429 with Retry-After beyond it). Prints how long until every incident is visible in the channel
 * (a message of its own at the top level, or a line in the storm digest), how many 429s the relay drew and
 * whether anything was dropped. Reference (DESIGN.md, issue 3): Alertmanager 0.25's own Slack notifier
 * delivered 7 of 30 within 60 s and drew 182 429s, because it does not retry them.
 *
 * STORM_THRESHOLD sets the route's `storm.threshold` (default: the policy default, 5); a threshold above
 * STORM_INCIDENTS turns the digest off, which gives the figure from before it existed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay } from '../src/app/relay.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { DEFAULT_SLACK_TOKEN, startFakeSlack } from '../test/support/fake-slack.js';
import { deletePrefix } from '../test/support/redis.js';
import { machineLine } from './support.js';

const INCIDENTS = Number(process.env.STORM_INCIDENTS ?? 30);
const LIMIT_S = Number(process.env.STORM_LIMIT_SECONDS ?? 120);
const THRESHOLD = process.env.STORM_THRESHOLD;

async function main(): Promise<void> {
  const prefix = `bench-storm-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), 'relay-storm-'));
  const fake = await startFakeSlack({ rateLimitPerChannel: { perSecond: 1, retryAfterSeconds: 1 } });
  const policy = join(work, 'policy.yaml');
  writeFileSync(
    policy,
    `routes:\n  - name: critical\n    matchers: ['severity="critical"']\n    slack: ['#alerts-critical']\n    repeat: 5m\n${THRESHOLD ? `    storm: { threshold: ${Number(THRESHOLD)}, window: 30s }\n` : ''}fallback_route: critical\nredis_prefix: ${prefix}\n`,
  );
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    RELAY_CONFIG: policy,
    SLACK_BOT_TOKEN: DEFAULT_SLACK_TOKEN,
    SLACK_API_URL: fake.url,
    RELAY_OUTBOX_DIR: join(work, 'outbox'),
  });
  const relay = await startRelay(config, { logger: createLogger('warn') });
  try {
    const started = Date.now();
    const responses = await Promise.all(
      Array.from({ length: INCIDENTS }, (_, i) =>
        fetch(`${relay.url}/webhook/alertmanager`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            version: '4',
            groupKey: `{}:{alertname="ReeferUnitFault", vehicle_id="TRK-${1000 + i}"}`,
            truncatedAlerts: 0,
            status: 'firing',
            receiver: 'relay',
            groupLabels: { alertname: 'ReeferUnitFault', vehicle_id: `TRK-${1000 + i}` },
            commonLabels: {
              alertname: 'ReeferUnitFault',
              severity: 'critical',
              vehicle_id: `TRK-${1000 + i}`,
            },
            commonAnnotations: { summary: `Reefer unit fault on TRK-${1000 + i}` },
            externalURL: 'http://alertmanager:9093',
            alerts: [
              {
                status: 'firing',
                labels: { alertname: 'ReeferUnitFault', severity: 'critical', vehicle_id: `TRK-${1000 + i}` },
                annotations: { summary: `Reefer unit fault on TRK-${1000 + i}` },
                startsAt: new Date().toISOString(),
                endsAt: '0001-01-01T00:00:00Z',
                generatorURL: 'http://prometheus:9090/graph',
                fingerprint: (0x1000 + i).toString(16),
              },
            ],
          }),
        }).then((r) => r.status),
      ),
    );
    const accepted = responses.filter((s) => s === 200).length;
    const vehicles = Array.from({ length: INCIDENTS }, (_, i) => `TRK-${1000 + i}`);
    const isDigest = (m: { metadata: unknown }) =>
      (m.metadata as { event_type?: string } | undefined)?.event_type === 'relay_storm';
    /** Vehicles visible in the channel: in a top-level message of their own, or listed in a digest. */
    const visibleVehicles = () => {
      const seen = new Set<string>();
      for (const m of fake.topLevelMessages('#alerts-critical')) {
        const text = JSON.stringify([m.text, m.attachments]);
        for (const v of vehicles) if (text.includes(v)) seen.add(v);
      }
      return seen;
    };
    /** Incidents with a message of their own anywhere (top level, or in the digest's thread). */
    const ownMessages = () =>
      new Set(
        [...fake.messages.values()]
          .filter((m) => (m.metadata as { event_type?: string } | undefined)?.event_type === 'relay_incident')
          .map((m) => (m.metadata as { event_payload: { incident_id: string } }).event_payload.incident_id),
      ).size;
    const visibleAt: number[] = [];
    let allOwnAt: number | undefined;
    while (Date.now() - started < LIMIT_S * 1000) {
      const visible = visibleVehicles().size;
      while (visibleAt.length < visible) visibleAt.push(Date.now() - started);
      if (allOwnAt === undefined && ownMessages() >= INCIDENTS) allOwnAt = Date.now() - started;
      if (visible >= INCIDENTS && allOwnAt !== undefined) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const visible = visibleVehicles().size;
    const within60 = visibleAt.filter((t) => t <= 60_000).length;
    const failed = (await relay.queue.getJobs(['failed'])).length;
    const digests = fake.topLevelMessages('#alerts-critical').filter(isDigest);
    const own = fake.topLevelMessages('#alerts-critical').filter((m) => !isDigest(m));
    process.stdout.write(
      `${[
        `storm benchmark: ${INCIDENTS} critical incidents at once → #alerts-critical, fake Slack allows 1 message/s per channel (posts and updates), storm threshold ${THRESHOLD ?? '5 (default)'}`,
        machineLine(),
        `accepted (2xx):            ${accepted}/${INCIDENTS}`,
        `visible in Slack:          ${visible}/${INCIDENTS}${visible === INCIDENTS ? '' : `  (limit ${LIMIT_S}s)`}`,
        `visible within 60 s:       ${within60}/${INCIDENTS}   (Alertmanager 0.25: 7/30)`,
        `time until all visible:    ${visible === INCIDENTS ? `${((visibleAt.at(-1) ?? 0) / 1000).toFixed(1)} s` : 'not reached'}  (goal: 8 s; one message each at 1/s: ${INCIDENTS - 1} s)`,
        `top-level messages:        ${own.length} incidents + ${digests.length} digest(s)${digests.length ? ` (digest updated ${digests.reduce((n, d) => n + d.updates, 0)}×)` : ''}`,
        `every own message posted:  ${allOwnAt === undefined ? 'not reached' : `${(allOwnAt / 1000).toFixed(1)} s`}  (top level or the digest's thread)`,
        `429s drawn:                ${fake.rateLimitedCount}   (Alertmanager 0.25: 182)`,
        `dropped (dead-lettered):   ${failed}`,
        `duplicates (same incident posted twice): ${[...fake.messages.values()].filter((m) => (m.metadata as { event_type?: string } | undefined)?.event_type === 'relay_incident').length - ownMessages()}; digests posted: ${digests.length}`,
      ].join('\n')}\n`,
    );
    if (process.env.STORM_TRACE)
      for (const c of fake.calls.filter((c) => c.method.startsWith('chat.')))
        process.stdout.write(
          `${((c.at - started) / 1000).toFixed(2)} s ${c.method} ${c.response.status}${c.body.thread_ts ? ' (thread)' : ''}${JSON.stringify(c.body.metadata ?? '').includes('relay_storm') ? ' DIGEST' : ''}\n`,
        );
  } finally {
    await relay.stop();
    await fake.close();
    await deletePrefix(prefix);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:storm failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
