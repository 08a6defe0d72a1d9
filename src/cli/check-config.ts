/**
 * `npm run check-config -- FILE`: validates a policy file and prints the routing table it yields.
 * Without FILE it checks the embedded default. Exit code 2 when the file is refused, as at start.
 */
import { ConfigError, loadPolicyFile } from '../config/config.js';
import { formatDuration } from '../domain/duration.js';
import { describeRoutingTable } from '../route/route.js';

const file = process.argv[2];
try {
  const { policy, source } = loadPolicyFile(file);
  process.stdout.write(
    `${source}: OK\n\n${describeRoutingTable(policy, process.env.RELAY_ONCALL_EMAIL)}\n\n`,
  );
  const d = policy.delivery;
  process.stdout.write(
    `delivery: concurrency ${d.concurrency}, ${d.attempts} attempts (backoff ${formatDuration(d.backoff)} doubling to ${formatDuration(d.max_backoff)}), ` +
      `Slack pace ${d.slack_pace}s per channel, stale after ${formatDuration(d.stale_after)}, retention ${formatDuration(d.retention)}\n`,
  );
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
