/**
 * `npm run check-config -- [FILE] [--online]`: runs the checks `npm start` runs before it touches the
 * network (the environment, the policy file, the context catalog, the fleet file, the email templates) and
 * prints the routing table. FILE is the policy (default: RELAY_CONFIG, else the embedded default). With
 * --online it also asks Slack (auth.test) and the SMTP server (verify), as the start does. Exit code 2 with
 * the same one-line messages as at start when something is refused.
 */
import { dirname } from 'node:path';
import { type OnlineCheckResult, runOnlineChecks, runStaticChecks } from '../app/checks.js';
import { selectMailSender, selectSlackSender } from '../app/relay.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { formatDuration } from '../domain/duration.js';
import { describeLadders } from '../domain/ladder.js';
import { describeSchedules } from '../oncall/describe.js';
import { createOnCallResolver } from '../oncall/resolver.js';
import { describeRoutingTable } from '../route/route.js';

const args = process.argv.slice(2);
const online = args.includes('--online');
const file = args.find((arg) => !arg.startsWith('--'));

async function main(): Promise<void> {
  const config = loadConfig(file ? { ...process.env, RELAY_CONFIG: file } : process.env);
  runStaticChecks(config);
  const { policy, policySource } = config;
  process.stdout.write(`${policySource}: OK\n\n${describeRoutingTable(policy, config.oncallEmail)}\n\n`);
  const d = policy.delivery;
  process.stdout.write(
    `delivery: concurrency ${d.concurrency}, ${d.attempts} attempts (backoff ${formatDuration(d.backoff)} doubling to ${formatDuration(d.max_backoff)}), ` +
      `Slack pace ${d.slack_pace}s per channel, stale after ${formatDuration(d.stale_after)}, retention ${formatDuration(d.retention)}\n`,
  );
  process.stdout.write(`\n${describeLadders(policy.routes, policy.ack_timeout)}\n`);
  if (Object.keys(policy.schedules).length) {
    // Every schedule resolved now, as an escalation step would: iCal paths from the policy file's directory.
    const resolver = createOnCallResolver(policy.schedules, { baseDir: dirname(policySource) });
    const { text } = await describeSchedules(resolver, policy.schedules, Date.now(), { offline: !online });
    process.stdout.write(`\nschedules (on call now):\n${text}\n`);
  }
  if (!online) return;
  const slack = selectSlackSender(config);
  const mail = selectMailSender(config);
  let results: OnlineCheckResult[];
  try {
    results = await runOnlineChecks(config, { slack, mail });
  } finally {
    mail.close();
  }
  for (const result of results)
    process.stdout.write(
      result.ok
        ? `${result.channel}: ${result.detail}\n`
        : `${result.error.message}; the relay starts degraded (delivery.start_degraded: true)\n`,
    );
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
});
