/**
 * `npm run demo`: posts the payloads captured from a real Alertmanager to a running relay, so a newcomer
 * sees the whole flow — first message, a vehicle joining, a partial resolve, a resolve — in the outbox
 * (preview mode) or in Slack and email. Each run uses fresh groups, so it can be repeated.
 */
import { readFileSync } from 'node:fs';

const base = (
  process.env.RELAY_URL ?? `http://${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? '8081'}`
).replace(/\/+$/, '');
const token = process.env.RELAY_WEBHOOK_TOKEN;
const pause = Number(process.env.DEMO_PAUSE_MS ?? 2000);
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

async function main(): Promise<void> {
  const health = await fetch(`${base}/healthz`).catch(() => undefined);
  if (!health?.ok)
    throw new Error(`no relay answers at ${base}; start it with \`npm start\` (or set RELAY_URL)`);
  for (const [name, what] of steps) {
    const payload = JSON.parse(
      readFileSync(new URL(`../../test/fixtures/${name}.json`, import.meta.url), 'utf8'),
    ) as { groupKey: string };
    payload.groupKey = `${payload.groupKey}/demo-${run}`;
    const res = await fetch(`${base}/webhook/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(payload),
    });
    const body = (await res.json()) as { status?: string; error?: { message: string } };
    process.stdout.write(`${res.status} ${body.status ?? body.error?.message ?? ''}  ${what}\n`);
    await new Promise((r) => setTimeout(r, pause));
  }
  process.stdout.write(
    `\nDone. In preview mode, see ${process.env.RELAY_OUTBOX_DIR ?? './outbox'}/slack/*.json and ./email/*.eml.\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`demo: ${(error as Error).message}\n`);
  process.exit(1);
});
