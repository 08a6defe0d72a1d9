/**
 * Start-up checks (DESIGN.md §Style, one error vocabulary). Static checks read only files: the policy and
 * the environment (loadConfig), the context catalog, the fleet file and the email templates; they run
 * before any network I/O. Online checks ask Slack (auth.test) and the SMTP server (verify). Each problem is
 * a ConfigError; `npm start` and `npm run check-config` run the same checks and exit 2 on the same message.
 */

import { loadEmailTemplates } from '../channels/email/render.js';
import type { MailSender } from '../channels/email/sender.js';
import type { SlackSender } from '../channels/slack/sender.js';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/errors.js';
import { ConfigFileError, loadContextCatalog, loadFleet } from '../context/index.js';

/**
 * A loader's failure as a ConfigError. Problems inside the file already name it and the bad key; a file that
 * cannot be read at all is named after the policy key that points to it.
 */
function asConfigError(error: unknown, source: string, keyPath: string): ConfigError {
  if (error instanceof ConfigFileError && error.issues.every((issue) => issue.path === '(file)'))
    return ConfigError.at(
      source,
      keyPath,
      error.issues.map((issue) => `${error.file}: ${issue.message}`).join('; '),
    );
  if (error instanceof ConfigError) return error;
  return ConfigError.at(source, keyPath, (error as Error).message);
}

/** Reads the files the policy names; throws the first ConfigError found. No network I/O. */
export function runStaticChecks(config: Config): void {
  const { policy, policySource } = config;
  try {
    loadContextCatalog(policy.context.catalog);
  } catch (error) {
    throw asConfigError(error, policySource, 'context.catalog');
  }
  // With CONTEXT_API_URL the fleet comes from the API; the file is not read.
  if (!config.contextApiUrl) {
    try {
      loadFleet(policy.context.fleet);
    } catch (error) {
      throw asConfigError(error, policySource, 'context.fleet');
    }
  }
  try {
    loadEmailTemplates(policy.templates_dir);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${policySource}: ${error.message}`);
    throw asConfigError(error, policySource, 'templates_dir');
  }
}

export type OnlineCheckResult =
  | { channel: 'Slack' | 'SMTP'; ok: true; detail: string }
  | {
      channel: 'Slack' | 'SMTP';
      ok: false;
      error: ConfigError;
    };

/**
 * Slack auth.test and SMTP verify. A failure is a ConfigError naming the environment variable; with
 * `delivery.start_degraded: true` it is returned for the caller to log, else thrown.
 */
export async function runOnlineChecks(
  config: Config,
  senders: { slack: SlackSender; mail: MailSender },
): Promise<OnlineCheckResult[]> {
  const results: OnlineCheckResult[] = [];
  for (const [channel, variable, sender] of [
    ['Slack', 'SLACK_BOT_TOKEN', senders.slack],
    ['SMTP', 'SMTP_URL', senders.mail],
  ] as const) {
    try {
      results.push({ channel, ok: true, detail: await sender.verify() });
    } catch (error) {
      const failure = ConfigError.at(
        'environment',
        variable,
        `${channel} check failed: ${(error as Error).message}${config.policy.delivery.start_degraded ? '' : ' (set delivery.start_degraded: true to start anyway)'}`,
      );
      if (!config.policy.delivery.start_degraded) throw failure;
      results.push({ channel, ok: false, error: failure });
    }
  }
  return results;
}
