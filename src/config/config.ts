/**
 * The one place that reads the environment and the YAML policy file. Everything else receives the typed
 * `Config` it returns. Deployment settings and secrets come from the environment; policy (routes,
 * repeats, limits) from the YAML file named by RELAY_CONFIG, or the embedded default.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_DISPLAY_TIMEZONE, isKnownTimeZone } from '../domain/display-time.js';
import { durationSchema, formatDuration } from '../domain/duration.js';
import { type Matcher, parseMatcher } from '../domain/matchers.js';
import { checkCalendarFiles } from '../oncall/calendar-source.js';
import { schedulesSchema } from '../oncall/schema.js';
import { ConfigError } from './errors.js';

export { ConfigError };

const matcherSchema = z.string().transform((text, ctx): Matcher => {
  try {
    return parseMatcher(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** A window: a duration that is not 0 ("never" is not a window). */
const positiveDurationSchema = durationSchema.refine(
  (seconds) => seconds > 0,
  'must be longer than 0 (e.g. 30s, 30m)',
);

/** A route's `storm:` and `flapping:` when omitted (windows in seconds); also for routes escalation adds. */
export const STORM_DEFAULTS = { threshold: 5, window: 30 } as const;
export const FLAPPING_DEFAULTS = { count: 3, window: 1800 } as const;

/** `oncall` in an email list stands for RELAY_ONCALL_EMAIL, so the default policy needs no addresses. */
export const ONCALL = 'oncall';

const slackChannel = z
  .string()
  .regex(/^[#@]?[\w.-]+$/, 'a Slack channel such as #alerts-critical or C0123ABC');

/** `schedule:NAME` in a step's `email` or `mention`: whoever is on call in that schedule when the step is taken. */
export const SCHEDULE_REF = /^schedule:([\w.-]+)$/;
const scheduleRef = z.string().regex(SCHEDULE_REF, 'schedule:NAME');

/** One step of a route's `escalate:` ladder (issue 12). */
const escalateStepSchema = z
  .strictObject({
    after: durationSchema.refine((s) => s > 0, 'must be a positive duration such as 15m'),
    slack: z.array(slackChannel).default([]),
    email: z.array(z.union([z.literal(ONCALL), scheduleRef, z.email()])).default([]),
    /** Slack user ids (U0123ABCD) or schedule:NAME; a mention never comes from alert labels. */
    mention: z
      .array(
        z.union([
          scheduleRef,
          z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user id such as U0123ABCD, or schedule:NAME'),
        ]),
      )
      .default([]),
  })
  .refine((step) => step.slack.length + step.email.length + step.mention.length > 0, {
    message: 'a step needs at least one of slack, email, mention',
  });

const routeSchema = z.strictObject({
  name: z.string().min(1),
  matchers: z.array(matcherSchema).default([]),
  slack: z.array(slackChannel).default([]),
  email: z.array(z.union([z.literal(ONCALL), z.email()])).default([]),
  repeat: durationSchema,
  /** Taken while the incident is unacknowledged `after` its first notification; `after` strictly increasing. */
  escalate: z
    .array(escalateStepSchema)
    .default([])
    .superRefine((steps, ctx) => {
      steps.forEach((step, i) => {
        if (i > 0 && step.after <= (steps[i - 1] as { after: number }).after)
          ctx.addIssue({
            code: 'custom',
            path: [i, 'after'],
            message: `must be later than the previous step's (${formatDuration((steps[i - 1] as { after: number }).after)})`,
          });
      });
    }),
  /** Post reminders to the channel as well as the thread (Slack's reply_broadcast). */
  broadcast_reminders: z.boolean().default(false),
  continue: z.boolean().default(false),
  /** More than `threshold` new incidents for one destination within `window`: one digest instead (issue 14). */
  storm: z
    .strictObject({
      threshold: z.number().int().positive().default(STORM_DEFAULTS.threshold),
      window: positiveDurationSchema.default(STORM_DEFAULTS.window),
    })
    .prefault({}),
  /** A group that fired again more than `count` times within `window` reuses its first message (issue 14). */
  flapping: z
    .strictObject({
      count: z.number().int().nonnegative().default(FLAPPING_DEFAULTS.count),
      window: positiveDurationSchema.default(FLAPPING_DEFAULTS.window),
    })
    .prefault({}),
});
export type RouteConfig = z.output<typeof routeSchema>;

const policySchema = z.strictObject({
  routes: z.array(routeSchema).min(1),
  /** An acknowledgement lapses after this long: reminders and the escalation ladder resume (never = it does not). */
  ack_timeout: durationSchema.default(0),
  /** Route used when no route matches (DESIGN.md: anything else → the warning route). */
  fallback_route: z.string().default('warning'),
  ingest: z
    .strictObject({
      /** Alerts kept per webhook; the rest are added to truncatedAlerts, never rejected. */
      max_alerts: z.number().int().positive().default(500),
    })
    .prefault({}),
  delivery: z
    .strictObject({
      /** Worker slots per process for each channel kind (Slack and email have separate queues and slots). */
      concurrency: z.number().int().positive().default(8),
      /** Overrides `concurrency` for one kind, e.g. fewer SMTP connections than Slack calls. */
      slack_concurrency: z.number().int().positive().optional(),
      email_concurrency: z.number().int().positive().optional(),
      attempts: z.number().int().positive().default(10),
      /** First retry delay; doubles each attempt, with jitter, capped by max_backoff. */
      backoff: durationSchema.default(2),
      max_backoff: durationSchema.default(300),
      slack_pace: durationSchema.default(1),
      slack_timeout: durationSchema.default(10),
      smtp_timeout: durationSchema.default(15),
      /** A group not refreshed by Alertmanager for this long stops reminding (heartbeat + group_interval, well above). */
      stale_after: durationSchema.default(1800),
      /**
       * With ALERTMANAGER_URL: how often a firing incident whose reminders are paused or absent asks
       * Alertmanager whether its alerts still exist (it sends no resolve for one silenced when it ended).
       */
      alertmanager_check: durationSchema.default(60),
      /** How long incident state and logs stay in Redis after resolve. */
      retention: durationSchema.default(7 * 86400),
      shutdown_grace: durationSchema.default(20),
      /** Start even when Slack auth.test or SMTP verify fails at start (deliveries then retry and dead-letter). */
      start_degraded: z.boolean().default(false),
    })
    .prefault({}),
  /** Sender name and icon on Slack messages (needs the chat:write.customize scope), as the monitoring guide's. */
  slack_identity: z
    .strictObject({
      username: z.string().min(1).default('AlertManager'),
      icon_emoji: z
        .string()
        .regex(/^:[\w+-]+:$/)
        .default(':fire:'),
    })
    .prefault({}),
  /** IANA zone for every time a message shows (times not today also show their date). */
  display_timezone: z
    .string()
    .refine(isKnownTimeZone, 'an IANA time zone such as UTC or Europe/Amsterdam')
    .default(DEFAULT_DISPLAY_TIMEZONE),
  /** The Silence buttons on Slack messages (issue: 1 h and 4 h). */
  silence_durations: z.array(durationSchema).min(1).max(4).default([3600, 14400]),
  templates_dir: z.string().optional(),
  context: z
    .strictObject({
      catalog: z.string().optional(),
      fleet: z.string().optional(),
      timeout: durationSchema.default(0.8),
      cache_ttl: durationSchema.default(300),
    })
    .prefault({}),
  redis_prefix: z
    .string()
    .regex(/^[\w-]+$/)
    .default('relay'),
  /** On-call schedules (src/oncall/schema.ts): NAME → a YAML rotation or an iCal calendar. */
  schedules: schedulesSchema.default({}),
});
export type Policy = z.output<typeof policySchema>;

export const DEFAULT_POLICY_YAML = `# Embedded default policy (DESIGN.md §Routing). Copy it, edit it, point RELAY_CONFIG at it.
routes:
  - name: critical
    matchers: ['severity="critical"']
    slack: ['#alerts-critical']
    email: [oncall]
    repeat: 5m
  - name: warning
    matchers: ['severity="warning"']
    slack: ['#alerts-warning']
    repeat: 1h
  - name: info
    matchers: ['severity="info"']
    slack: ['#alerts-info']
    repeat: never
fallback_route: warning
`;

const booleanLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  HOST: z.string().min(1).default('127.0.0.1'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  REDIS_SENTINELS: z
    .string()
    .optional()
    .transform((v, ctx) => (v === undefined ? undefined : parseSentinels(v, ctx))),
  REDIS_SENTINEL_NAME: z
    .string()
    .regex(/^[\w.-]+$/, 'a Sentinel master name such as mymaster')
    .optional(),
  REDIS_SENTINEL_PASSWORD: z.string().optional(),
  REDIS_MIN_REPLICAS: z.coerce.number().int().min(0).max(16).optional(),
  RELAY_CONFIG: z.string().optional(),
  RELAY_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  RELAY_WEBHOOK_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  RELAY_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  RELAY_OUTBOX_DIR: z.string().optional(),
  RELAY_ONCALL_EMAIL: z.email().optional(),
  RELAY_ACK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  SLACK_BOT_TOKEN: z.string().startsWith('xox', 'must be a Slack token (xoxb-…)').optional(),
  SLACK_API_URL: z.url().default('https://slack.com/api/'),
  SLACK_SIGNING_SECRET: z.string().optional(),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://')
    .optional(),
  EMAIL_FROM: z.string().default('Cold-chain alert relay <relay@localhost>'),
  ALERTMANAGER_URL: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((u) => u.trim())
            .filter(Boolean)
        : [],
    )
    .pipe(z.array(z.url())),
  CONTEXT_API_URL: z.url().optional(),
  PUBLIC_URL: z.url().optional(),
  LOG_LEVEL: booleanLevel.default('info'),
});
/** Variables whose values must never be printed (the list check-config and logs redact). */
export const SECRET_VARIABLES = [
  'RELAY_WEBHOOK_TOKEN',
  'RELAY_ACK_SECRET',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SMTP_URL',
  'REDIS_URL',
  'REDIS_SENTINEL_PASSWORD',
] as const;

/** The address that REDIS_URL means when it is not set. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface SentinelAddress {
  host: string;
  port: number;
}

/**
 * Where Redis is: one URL, or a master found through Sentinel (REDIS_SENTINELS replaces REDIS_URL).
 * `explicit` says whether REDIS_URL was set: only the default address may be replaced by a local
 * redis-server child at start (main.ts); a configured one that does not answer stays an error.
 */
export type RedisTarget =
  | { kind: 'url'; url: string; explicit: boolean }
  | { kind: 'sentinel'; sentinels: SentinelAddress[]; name: string; password: string | undefined };

/** `host:port,host:port` (IPv6 as `[::1]:26379`; the port defaults to Sentinel's 26379). */
function parseSentinels(text: string, ctx: z.RefinementCtx): SentinelAddress[] {
  const addresses: SentinelAddress[] = [];
  for (const item of text.split(',').map((s) => s.trim())) {
    const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(item);
    const port = match?.[3] === undefined ? 26379 : Number(match[3]);
    if (!match || port < 1 || port > 65535) {
      ctx.addIssue({
        code: 'custom',
        message: `"${item}" is not host:port (a comma-separated list such as sentinel-0:26379,sentinel-1:26379)`,
      });
      return [];
    }
    addresses.push({ host: match[1] ?? match[2]!, port });
  }
  return addresses;
}

export interface Config {
  port: number;
  host: string;
  /** REDIS_URL (or its default). Connect through `redis`, which is the Sentinel setup when there is one. */
  redisUrl: string;
  redis: RedisTarget;
  /** Replicas a commit must reach (WAIT) before the webhook is answered 2xx: REDIS_MIN_REPLICAS. */
  redisMinReplicas: number;
  role: 'all' | 'api' | 'worker';
  webhookToken: string | undefined;
  maxBodyBytes: number;
  /** Set when Slack or email runs in preview mode. */
  outboxDir: string;
  oncallEmail: string | undefined;
  ackSecret: string | undefined;
  slack: { token: string | undefined; apiUrl: string; signingSecret: string | undefined };
  smtp: { url: string | undefined; from: string };
  alertmanagerUrls: string[];
  contextApiUrl: string | undefined;
  publicUrl: string;
  logLevel: z.output<typeof booleanLevel>;
  policy: Policy;
  /** Where the policy came from, for messages. */
  policySource: string;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function describeIssues(source: string, error: z.ZodError): string {
  return error.issues
    .map(
      (issue) => `${source}: ${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`,
    )
    .join('\n');
}

export function parsePolicy(yamlText: string, source: string): Policy {
  let raw: unknown;
  try {
    raw = parseYaml(yamlText);
  } catch (error) {
    throw new ConfigError(`${source}: not valid YAML: ${(error as Error).message}`);
  }
  const parsed = policySchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(describeIssues(source, parsed.error));
  const policy = parsed.data;
  const names = policy.routes.map((r) => r.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new ConfigError(`${source}: routes: route name "${duplicate}" is used twice`);
  if (!names.includes(policy.fallback_route)) {
    throw new ConfigError(`${source}: fallback_route: no route is named "${policy.fallback_route}"`);
  }
  checkScheduleRefs(policy, source);
  return policy;
}

/** Every `schedule:NAME` in a ladder must name a schedule of the policy's `schedules:` key. */
function checkScheduleRefs(policy: Policy, source: string): void {
  const schedules = policy.schedules;
  const problems: string[] = [];
  policy.routes.forEach((route, r) => {
    route.escalate.forEach((step, i) => {
      for (const key of ['email', 'mention'] as const) {
        step[key].forEach((entry, j) => {
          const name = SCHEDULE_REF.exec(entry)?.[1];
          if (name !== undefined && !Object.hasOwn(schedules, name))
            problems.push(
              `${source}: routes.${r}.escalate.${i}.${key}.${j}: no schedule is named "${name}" (schedules: ${Object.keys(schedules).join(', ') || 'none configured'})`,
            );
        });
      }
    });
  });
  if (problems.length) throw new ConfigError(problems.join('\n'));
}

export function loadPolicyFile(path: string | undefined): { policy: Policy; source: string } {
  if (!path)
    return { policy: parsePolicy(DEFAULT_POLICY_YAML, 'embedded default'), source: 'embedded default' };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `${path}: cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const policy = parsePolicy(text, path);
  // iCal paths are relative to the policy file; an unreadable calendar is refused now, not at 03:00.
  const problems = checkCalendarFiles(policy.schedules, dirname(path));
  if (problems.length)
    throw new ConfigError(problems.map((p) => `${path}: ${p.keyPath}: ${p.reason}`).join('\n'));
  return { policy, source: path };
}

function redisTargetOf(e: z.output<typeof envSchema>, url: string): RedisTarget {
  if (!e.REDIS_SENTINELS) {
    for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
      if (e[name] !== undefined)
        throw new ConfigError(`environment: ${name}: set without REDIS_SENTINELS, which it belongs to`);
    }
    return { kind: 'url', url, explicit: e.REDIS_URL !== undefined };
  }
  if (!e.REDIS_SENTINEL_NAME) {
    throw new ConfigError(
      'environment: REDIS_SENTINEL_NAME: required when REDIS_SENTINELS is set (the name of the master the sentinels monitor)',
    );
  }
  return {
    kind: 'sentinel',
    sentinels: e.REDIS_SENTINELS,
    name: e.REDIS_SENTINEL_NAME,
    password: e.REDIS_SENTINEL_PASSWORD,
  };
}

/** Parses the environment and the policy file; throws ConfigError with every problem found. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable is treated as unset: compose files and .env templates often leave them blank.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsedEnv = envSchema.safeParse(present);
  if (!parsedEnv.success) throw new ConfigError(describeIssues('environment', parsedEnv.error));
  const e = parsedEnv.data;
  const { policy, source } = loadPolicyFile(e.RELAY_CONFIG);

  if (e.SMTP_URL && !e.RELAY_ONCALL_EMAIL) {
    throw new ConfigError(
      'environment: RELAY_ONCALL_EMAIL: required when SMTP_URL is set (the on-call list receives critical alerts)',
    );
  }
  const loopback = isLoopback(e.HOST);
  // A worker serves only /healthz, /readyz and /metrics: it has no webhook to protect.
  if (!e.RELAY_WEBHOOK_TOKEN && !loopback && e.RELAY_ROLE !== 'worker') {
    throw new ConfigError(
      `environment: RELAY_WEBHOOK_TOKEN: required when HOST (${e.HOST}) is not a loopback address`,
    );
  }
  const preview = !e.SLACK_BOT_TOKEN || !e.SMTP_URL;
  if (preview && !loopback && !e.RELAY_OUTBOX_DIR && e.RELAY_ROLE !== 'api') {
    throw new ConfigError(
      `environment: RELAY_OUTBOX_DIR: ${!e.SLACK_BOT_TOKEN ? 'SLACK_BOT_TOKEN' : 'SMTP_URL'} is not set, so that channel would run in preview mode; on a non-loopback HOST set RELAY_OUTBOX_DIR explicitly to allow it`,
    );
  }
  const redisUrl = e.REDIS_URL ?? DEFAULT_REDIS_URL;
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl,
    redis: redisTargetOf(e, redisUrl),
    redisMinReplicas: e.REDIS_MIN_REPLICAS ?? (e.REDIS_SENTINELS ? 1 : 0),
    role: e.RELAY_ROLE,
    webhookToken: e.RELAY_WEBHOOK_TOKEN,
    maxBodyBytes: e.RELAY_MAX_BODY_BYTES,
    outboxDir: e.RELAY_OUTBOX_DIR ?? './outbox',
    oncallEmail: e.RELAY_ONCALL_EMAIL,
    ackSecret: e.RELAY_ACK_SECRET,
    slack: { token: e.SLACK_BOT_TOKEN, apiUrl: e.SLACK_API_URL, signingSecret: e.SLACK_SIGNING_SECRET },
    smtp: { url: e.SMTP_URL, from: e.EMAIL_FROM },
    alertmanagerUrls: e.ALERTMANAGER_URL,
    contextApiUrl: e.CONTEXT_API_URL,
    publicUrl: (e.PUBLIC_URL ?? `http://${e.HOST.includes(':') ? `[${e.HOST}]` : e.HOST}:${e.PORT}`).replace(
      /\/+$/,
      '',
    ),
    logLevel: e.LOG_LEVEL,
    policy,
    policySource: source,
  };
}
