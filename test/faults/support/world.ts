/**
 * One scenario's world: its own redis-server (AOF), the fake Slack and the SMTP sink in the test process
 * (each optionally behind a fault-injecting TCP proxy), a relay process between them, and a poster that
 * behaves like Alertmanager. `close()` stops every process and port it started, also after a failure.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebhookPayload } from '../../../src/receive/schema.js';
import { type FakeSlack, startFakeSlack } from '../../support/fake-slack.js';
import { fixture } from '../../support/fixtures.js';
import { routingPolicy } from '../../support/policy.js';
import { freePort } from '../../support/redis-server.js';
import { type SmtpSink, startSmtpSink } from '../../support/smtp-sink.js';
import { type Destination, type Ledger, settle } from './accounting.js';
import { AofRedis, type Fsync } from './aof-redis.js';
import { type Accepted, Poster } from './poster.js';
import { RelayProcess } from './relay-process.js';
import { TcpProxy } from './tcp-proxy.js';

export const PREFIX = 'faults';
export const ONCALL = 'oncall@coldchain.example';
export const CRITICAL = '#alerts-critical';
export const WARNING = '#alerts-warning';
/** The info route posts to a channel the fake Slack does not know: Slack's permanent `channel_not_found`. */
export const MISSING_CHANNEL = '#alerts-nowhere';

export type Severity = 'critical' | 'warning' | 'info';

export interface WorldOptions {
  fsync?: Fsync;
  /** Reminder interval of the critical route; reminders are off (1h) unless a scenario wants them. */
  criticalRepeat?: string;
  /** Merged into the policy's `delivery:`. */
  delivery?: Record<string, number | string | boolean>;
  slackProxy?: boolean;
  smtpProxy?: boolean;
  env?: Record<string, string>;
}

/**
 * Retries are generous (the bound is attempts × backoff ≈ 30 s plus timeouts) so an outage of a few seconds
 * ends delivered. Timeouts (5 s) model a hung peer, not the machine: healthy calls on a starved 2-core
 * machine answer well within them, and the faults that test them hold calls far longer.
 */
export function faultPolicyYaml(options: WorldOptions): string {
  const delivery = {
    attempts: 30,
    backoff: 0.2,
    max_backoff: 1,
    slack_pace: 0.1,
    slack_timeout: 5,
    smtp_timeout: 5,
    stale_after: 600,
    shutdown_grace: 5,
    ...options.delivery,
  };
  return routingPolicy({
    critical: { slack: CRITICAL, email: true, repeat: options.criticalRepeat ?? '1h' },
    warning: { slack: WARNING },
    info: { slack: MISSING_CHANNEL },
    delivery,
    extra: { redis_prefix: PREFIX },
  });
}

/** A firing webhook of a group of its own (one incident per tag), of the given severity. */
export function firing(tag: string, severity: Severity = 'critical'): WebhookPayload {
  const payload = structuredClone(
    fixture(severity === 'warning' ? 'firing-high-cpu' : 'firing-postgresql-down'),
  );
  payload.groupKey = `${payload.groupKey}/${tag}`;
  if (severity === 'info') {
    payload.commonLabels.severity = 'info';
    payload.groupLabels.severity = 'info';
    for (const alert of payload.alerts) alert.labels.severity = 'info';
  }
  return payload;
}

/** The resolve of `firing(tag, 'critical')`. */
export function resolved(tag: string): WebhookPayload {
  const payload = structuredClone(fixture('resolved-postgresql-down'));
  payload.groupKey = `${payload.groupKey}/${tag}`;
  return payload;
}

export function destinationsOf(a: Accepted): Destination[] {
  switch (a.payload.commonLabels.severity) {
    case 'critical':
      return [
        { kind: 'slack', channel: CRITICAL },
        { kind: 'email', to: ONCALL },
      ];
    case 'info':
      return [{ kind: 'slack', channel: MISSING_CHANNEL }];
    default:
      return [{ kind: 'slack', channel: WARNING }];
  }
}

export class World {
  crashes = 0;
  private constructor(
    readonly dir: string,
    readonly redis: AofRedis,
    readonly fake: FakeSlack,
    readonly sink: SmtpSink,
    readonly slackProxy: TcpProxy | undefined,
    readonly smtpProxy: TcpProxy | undefined,
    readonly relay: RelayProcess,
    readonly poster: Poster,
  ) {}

  static async start(name: string, options: WorldOptions = {}): Promise<World> {
    const dir = mkdtempSync(join(tmpdir(), `faults-${name}-`));
    const started: { close(): Promise<void> }[] = [];
    try {
      const redis = await AofRedis.start(options.fsync ?? 'everysec');
      started.push({ close: () => redis.stop() });
      const fake = await startFakeSlack();
      started.push(fake);
      const sink = await startSmtpSink();
      started.push(sink);
      const slackProxy = options.slackProxy ? await TcpProxy.start(fake.port) : undefined;
      if (slackProxy) started.push(slackProxy);
      const smtpProxy = options.smtpProxy ? await TcpProxy.start(sink.port) : undefined;
      if (smtpProxy) started.push(smtpProxy);
      const policyFile = join(dir, 'policy.yaml');
      writeFileSync(policyFile, faultPolicyYaml(options));
      const relay = new RelayProcess(
        await freePort(),
        {
          REDIS_URL: redis.url,
          RELAY_CONFIG: policyFile,
          SLACK_BOT_TOKEN: 'xoxb-test-token',
          SLACK_API_URL: slackProxy ? `http://127.0.0.1:${slackProxy.port}/api/` : fake.url,
          SMTP_URL: smtpProxy ? `smtp://127.0.0.1:${smtpProxy.port}` : sink.url,
          RELAY_ONCALL_EMAIL: ONCALL,
          EMAIL_FROM: 'Cold-chain alert relay <relay@coldchain.example>',
          RELAY_OUTBOX_DIR: join(dir, 'outbox'),
          ...options.env,
        },
        join(dir, 'relay.log'),
      );
      started.push({ close: () => relay.stop() });
      await relay.start();
      return new World(dir, redis, fake, sink, slackProxy, smtpProxy, relay, new Poster(() => relay.url));
    } catch (error) {
      for (const part of started.reverse()) await part.close().catch(() => {});
      throw error;
    }
  }

  /** Waits for every accepted notification's outcome (or the deadline) and returns the ledger. */
  settle(timeoutMs: number, accepted: () => Accepted[] = () => this.poster.accepted): Promise<Ledger> {
    return settle(
      {
        accepted,
        destinationsOf,
        fake: this.fake,
        sink: this.sink,
        redisUrl: this.redis.url,
        prefix: PREFIX,
      },
      timeoutMs,
    );
  }

  /** For assertion messages: the relay's last log lines. */
  context(): string {
    return `relay log (${this.relay.logFile}):\n${this.relay.logTail(30)}`;
  }

  async close(): Promise<void> {
    await this.relay.stop().catch(() => {});
    for (const proxy of [this.slackProxy, this.smtpProxy]) await proxy?.close().catch(() => {});
    await this.fake.close().catch(() => {});
    await this.sink.close().catch(() => {});
    await this.redis.stop().catch(() => {});
    // Assertion messages carry the log's tail; FAULTS_KEEP_LOGS=1 keeps the whole directory for a closer look.
    if (!process.env.FAULTS_KEEP_LOGS) rmSync(this.dir, { recursive: true, force: true });
  }
}
