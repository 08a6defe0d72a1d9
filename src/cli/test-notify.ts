/**
 * `npm run test-notify`: sends one clearly marked test message to every destination the policy names
 * (each route's Slack channels and email lists), straight through the senders, and reports each result.
 */

import { selectMailSender, selectSlackSender } from '../app/relay.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { deliveriesFor } from '../route/route.js';

async function main(): Promise<number> {
  const config = loadConfig(process.env);
  const slack = selectSlackSender(config);
  const mail = selectMailSender(config);
  const targets = deliveriesFor(config.policy.routes, config.oncallEmail);
  const text = `:test_tube: TEST from the cold-chain alert relay (${new Date().toISOString()}): this destination is configured and reachable. No action needed.`;
  let failures = 0;
  for (const target of targets) {
    try {
      if (target.kind === 'slack') await slack.postMessage({ channel: target.target, text });
      else
        await mail.send({
          from: config.smtp.from,
          to: target.target.split(','),
          subject: '[TEST] cold-chain alert relay: test notification',
          text: text.replace(':test_tube: ', ''),
          html: `<p>${text.replace(':test_tube: ', '')}</p>`,
          messageId: `<relay.test.${Date.now()}.${target.id}@coldchain-relay.local>`,
        });
      process.stdout.write(
        `ok      ${target.kind} ${target.target}${(target.kind === 'slack' ? slack : mail).preview ? ' (preview: written to the outbox)' : ''}\n`,
      );
    } catch (error) {
      failures += 1;
      process.stdout.write(`FAILED  ${target.kind} ${target.target}: ${(error as Error).message}\n`);
    }
  }
  mail.close();
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);
