/**
 * `npm run oncall -- [NAME] [--at ISO]`: who is on call in each schedule of the policy (RELAY_CONFIG, as the
 * relay reads it), or in schedule NAME, now or at an instant: name and contacts, since, until, and the next
 * handoff, in the schedule's zone and UTC. For checking a schedule before an escalation relies on it.
 * Exit 0 when every schedule shown names someone, 1 when one cannot (unreadable calendar, unknown member,
 * nobody on call), 2 for a bad argument or policy.
 */
import { dirname } from 'node:path';
import { ConfigError, loadPolicyFile } from '../config/config.js';
import { describeSchedules } from '../oncall/describe.js';
import { createOnCallResolver } from '../oncall/resolver.js';

const USAGE = 'usage: npm run oncall -- [NAME] [--at ISO-8601 instant, e.g. 2026-03-29T07:00:00Z]';
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseArgs(args: string[]): { name: string | undefined; at: number } {
  let name: string | undefined;
  let at = Date.now();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--at' || arg.startsWith('--at=')) {
      const text = arg === '--at' ? args[++i] : arg.slice('--at='.length);
      if (text === undefined) throw new ConfigError(`--at: needs an instant\n${USAGE}`);
      const parsed = Date.parse(text);
      if (!INSTANT.test(text) || Number.isNaN(parsed))
        throw new ConfigError(
          `--at: "${text}" is not an ISO 8601 instant with a time and an offset, such as 2026-03-29T07:00:00Z or 2026-03-29T09:00+02:00`,
        );
      at = parsed;
    } else if (arg.startsWith('-')) {
      throw new ConfigError(`${arg}: unknown option\n${USAGE}`);
    } else if (name !== undefined) {
      throw new ConfigError(`${arg}: only one schedule NAME may be given (${name} was)\n${USAGE}`);
    } else {
      name = arg;
    }
  }
  return { name, at };
}

async function main(): Promise<number> {
  const { name, at } = parseArgs(process.argv.slice(2));
  const { policy, source } = loadPolicyFile(process.env.RELAY_CONFIG || undefined);
  const names = Object.keys(policy.schedules);
  if (!names.length) throw new ConfigError(`${source}: schedules: no schedule is configured`);
  if (name !== undefined && !names.includes(name))
    throw new ConfigError(
      `${source}: schedules: no schedule is named "${name}" (schedules: ${names.join(', ')})`,
    );
  // The relay reads relative iCal paths from the policy file's directory (the embedded default's is '.').
  const resolver = createOnCallResolver(policy.schedules, { baseDir: dirname(source) });
  const { ok, text } = await describeSchedules(resolver, policy.schedules, at, name ? { names: [name] } : {});
  process.stdout.write(`${text}\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw error;
  },
);
