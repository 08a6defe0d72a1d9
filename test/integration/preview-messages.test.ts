/**
 * Preview must match production (issue 14, item 7), through the whole relay: the outbox Slack file carries
 * the policy's slack_identity as the real sender adds it, the buttons are there marked inactive without
 * SLACK_SIGNING_SECRET, the mail shows an inactive acknowledge link without RELAY_ACK_SECRET, and times are
 * in display_timezone. Real Redis, the outbox preview senders, the shipped catalog and fleet.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { testConfig } from '../support/config.js';
import { CRITICAL, ONCALL, policyYaml, post } from '../support/delivery.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { expectWithinSlackLimits, type SlackMessageLike } from '../support/slack-limits.js';

const prefix = uniquePrefix('preview-messages');
const outbox = mkdtempSync(join(tmpdir(), 'relay-outbox-'));
let relay: RunningRelay;

interface SlackFile {
  method: string;
  args: {
    channel: string;
    username?: string;
    icon_emoji?: string;
    thread_ts?: string;
    text: string;
    attachments?: { blocks: { type: string; elements?: { text?: unknown }[] }[] }[];
  };
}

const read = (kind: 'slack' | 'email') => {
  const dir = join(outbox, kind);
  try {
    return readdirSync(dir)
      .sort()
      .map((name) => readFileSync(join(dir, name), 'utf8'));
  } catch {
    return [];
  }
};
const slackFiles = () => read('slack').map((text) => JSON.parse(text) as SlackFile);

beforeAll(async () => {
  relay = await startRelay(
    testConfig(
      prefix,
      { RELAY_OUTBOX_DIR: outbox, RELAY_ONCALL_EMAIL: ONCALL },
      `${policyYaml({ criticalRepeat: '1h' })}slack_identity: { username: ColdChain Relay, icon_emoji: ':snowflake:' }\ndisplay_timezone: Europe/Amsterdam\n`,
    ),
  );
});

afterAll(async () => {
  await relay?.stop();
  await deletePrefix(prefix);
  rmSync(outbox, { recursive: true, force: true });
});

/** The on-call list's first mail (not a reply in its thread, not the QA contacts' mail). */
const isOncallFirstMail = (raw: string) =>
  new RegExp(`^To: .*${ONCALL}`, 'mi').test(raw) && !/^In-Reply-To:/im.test(raw);

describe('preview mode shows what production would send', () => {
  it('identity, inactive buttons and acknowledge link, the driver to call, times in display_timezone', async () => {
    // A loaded machine may answer 503 ("retry later", Redis slow); Alertmanager retries, and so does this.
    const payload = inGroup(fixture('firing-reefer-excursion'), 'preview-messages');
    await pollUntil(
      async () => {
        await post(relay, payload);
        return true;
      },
      60_000,
      () => 'the webhook was not accepted',
      200,
    );
    await pollUntil(
      // The capture is past half its excursion budget, so the catalog's escalation also mails QA and tells
      // the on-call list in its thread: the first mail is one of several.
      () =>
        slackFiles().some((f) => f.method === 'chat.postMessage') && read('email').some(isOncallFirstMail),
      60_000,
      () => `outbox: ${slackFiles().map((f) => f.method)}, ${read('email').length} mails`,
    );
    const root = slackFiles().find((f) => f.method === 'chat.postMessage' && !f.args.thread_ts)!;
    expect(root.args).toMatchObject({
      channel: CRITICAL,
      username: 'ColdChain Relay',
      icon_emoji: ':snowflake:',
    });
    expectWithinSlackLimits(root.args as SlackMessageLike);
    const blocks = root.args.attachments![0]!.blocks;
    const actions = blocks.find((b) => b.type === 'actions');
    expect(actions?.elements?.map((e) => (e.text as { text: string }).text)).toContain('Acknowledge');
    const all = JSON.stringify(blocks);
    expect(all).toContain('_Preview: these buttons are inactive (SLACK_SIGNING_SECRET is not set)._');
    expect(all).toContain('<tel:+31612345042|+31 6 1234 5042>');
    // 02:53 UTC is 03:53 in Amsterdam; the capture is from another day, so the date is shown.
    expect(all).toContain('26 Nov 03:53 CET');

    const mail = await simpleParser(read('email').find(isOncallFirstMail)!);
    expect(mail.text).toContain('Acknowledge: inactive in this preview (RELAY_ACK_SECRET is not set)');
    expect(mail.html).toContain('<a href="tel:+31612345042">+31 6 1234 5042</a>');
    // Generous: on a machine shared with benchmarks, Redis commands may stall for seconds.
  }, 150_000);
});
