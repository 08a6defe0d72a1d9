/**
 * `npm run demo`: posts the payloads captured from a real Alertmanager to a running relay, so a newcomer
 * sees the whole flow — first message, a vehicle joining, a partial resolve, a resolve — in the outbox
 * (preview mode) or in Slack and email. Each run uses fresh groups, so it can be repeated.
 *
 * The payloads were captured once: their times are moved to now, group by group (demo-rebase.ts), so the
 * messages read as a live incident would. RELAY_WEBHOOK_TOKEN, when set, is sent as the relay expects it.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/config.js';
import { type DemoPayload, rebasePayload, rebaseShifts } from './demo-rebase.js';

const config = loadConfig(process.env);
// The relay to post to: an explicit URL, or the one this environment's HOST and PORT describe.
const base = (
  process.argv[2] ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`
).replace(/\/+$/, '');
const token = config.webhookToken;
const pause = 2000;
const run = new Date().toISOString().slice(11, 19);

const steps: [string, string][] = [
  [
    'firing-postgresql-down',
    'infrastructure alert: PostgreSQL down (critical → #alerts-critical + on-call email)',
  ],
  ['firing-high-cpu', 'warning: high CPU (→ #alerts-warning, hourly reminders)'],
  [
    'firing-reefer-excursion',
    'reefer excursion on TRK-0042 carrying chilled pharma (escalates, adds the QA list)',
  ],
  ['group-first-replica-a', 'a group of two reefers: first notification'],
  ['group-first-replica-b', '…the same from the other Alertmanager replica (deduplicated)'],
  ['group-truncated-replica-a', 'a third vehicle joins (Alertmanager truncates: max_alerts)'],
  ['group-partial-resolve-replica-a', 'one vehicle recovers (partial resolve)'],
  ['resolved-postgresql-down', 'PostgreSQL is back (the message turns resolved)'],
];

function readPayload(name: string): DemoPayload {
  return JSON.parse(
    readFileSync(new URL(`../../examples/payloads/${name}.json`, import.meta.url), 'utf8'),
  ) as DemoPayload;
}

async function main(): Promise<void> {
  const health = await fetch(`${base}/healthz`).catch(() => undefined);
  if (!health?.ok)
    throw new Error(
      `no relay answers at ${base}; start it with \`npm start\` (or pass its URL: npm run demo -- http://host:port)`,
    );
  const payloads = steps.map(([name]) => readPayload(name));
  const start = Date.now();
  const shifts = rebaseShifts(payloads.map((payload, i) => ({ payload, postAt: start + i * pause })));
  for (const [index, [, what]] of steps.entries()) {
    const payload = rebasePayload(payloads[index]!, shifts.get(payloads[index]!.groupKey) ?? 0);
    payload.groupKey = `${payload.groupKey}/demo-${run}`;
    const res = await fetch(`${base}/webhook/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(payload),
    });
    const body = (await res.json()) as { status?: string; error?: { message: string } };
    process.stdout.write(`${res.status} ${body.status ?? body.error?.message ?? ''}  ${what}\n`);
    if (res.status === 401)
      throw new Error(
        token
          ? 'the relay refused RELAY_WEBHOOK_TOKEN: run the demo with the token the relay was started with'
          : 'the relay wants a token: run the demo with RELAY_WEBHOOK_TOKEN set as for the relay',
      );
    await new Promise((r) => setTimeout(r, pause));
  }
  process.stdout.write(
    `\nDone. In preview mode, see ${config.outboxDir}/slack/*.json and ${config.outboxDir}/email/*.eml.\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`demo: ${(error as Error).message}\n`);
  process.exit(1);
});
