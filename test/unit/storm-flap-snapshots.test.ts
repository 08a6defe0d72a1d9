/**
 * Pinned renderings (issue 14) of a storm digest and of a flapping incident, Slack and email, each Slack
 * message also checked against Slack's documented limits (test/support/slack-limits.ts). Pure: built from
 * data and the captured Alertmanager 0.25 payloads with fixed clocks.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadEmailTemplates, replySubject, subjectFor } from '../../src/channels/email/render.js';
import { digestSubject, renderDigestMail, withFlapLine } from '../../src/channels/email/storm-digest.js';
import { renderSlackRoot } from '../../src/channels/slack/blocks.js';
import { flapBlock, flapReplyText } from '../../src/channels/slack/flap-lines.js';
import { renderSlackDigest } from '../../src/channels/slack/storm-digest.js';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import type { FlapShown } from '../../src/domain/flapping.js';
import { type DigestMember, newDigest, type StormDigest, withMember } from '../../src/domain/storm.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { buildView } from '../../src/render/view.js';
import { expectWithinSlackLimits } from '../support/slack-limits.js';

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-27T14:02:00Z');
const templates = loadEmailTemplates();

function digestOf(members: DigestMember[]): StormDigest {
  return members.reduce(withMember, newDigest('smwz00001', T0));
}

const member = (i: number, state: DigestMember['state'], severity = 'critical'): DigestMember => ({
  incidentId: `inc${String(i).padStart(13, '0')}`,
  title: `ReeferUnitFault · TRK-${1000 + i}`,
  severity,
  vehicle: `TRK-${1000 + i}`,
  state,
});

describe('storm digest', () => {
  const members = Array.from({ length: 12 }, (_, i) =>
    member(i, i < 2 ? 'resolved' : i === 2 ? 'acknowledged' : 'firing', i === 11 ? 'warning' : 'critical'),
  );
  const digest = digestOf(members);

  it('Slack: one message listing every incident with severity, vehicle and state', async () => {
    const slack = {
      channel: '#alerts-critical',
      username: 'AlertManager',
      icon_emoji: ':fire:',
      ...renderSlackDigest(digest),
    };
    expectWithinSlackLimits(slack as Parameters<typeof expectWithinSlackLimits>[0]);
    await expect(`${JSON.stringify(slack, null, 2)}\n`).toMatchFileSnapshot(
      '__snapshots__/storm-digest.slack.json',
    );
    const text = JSON.stringify(slack);
    expect(text).toContain('Storm: 12 new incidents at once');
    expect(text).toContain('9 firing · 1 acknowledged · 2 resolved');
    expect(text).toContain(
      ':white_check_mark: *critical* · TRK-1000 · ReeferUnitFault · TRK-1000 · _resolved_',
    );
  });

  it('Slack: a storm of 500 stays within the limits and says how many more', () => {
    const big = digestOf(Array.from({ length: 500 }, (_, i) => member(i, 'firing')));
    const rendered = renderSlackDigest(big);
    expectWithinSlackLimits(rendered as Parameters<typeof expectWithinSlackLimits>[0]);
    expect(JSON.stringify(rendered)).toMatch(/…and \d+ more \(each in this thread\)/);
  });

  it('Slack: all resolved turns the bar green; label values stay text', () => {
    const hostile = digestOf([{ ...member(1, 'resolved'), vehicle: '<!channel> & <http://x|y>' }]);
    const rendered = renderSlackDigest(hostile);
    expect((rendered.attachments[0] as { color: string }).color).toBe('#2EB67D');
    expect(JSON.stringify(rendered)).toContain('&lt;!channel&gt; &amp; &lt;http://x|y&gt;');
    expect(JSON.stringify(rendered)).not.toContain('<!channel>');
  });

  it('email: one digest mail, then updates in its thread that tell only what changed', async () => {
    const subject = digestSubject('oncall@coldchain.example', T0);
    const first = renderDigestMail(digest);
    await expect(`Subject: ${subject}\n\n${first.text}`).toMatchFileSnapshot(
      '__snapshots__/storm-digest.email.txt',
    );
    await expect(first.html).toMatchFileSnapshot('__snapshots__/storm-digest.email.html');
    const later = withMember(withMember(digest, member(3, 'resolved')), member(12, 'firing'));
    const update = renderDigestMail(later, [member(3, 'resolved'), member(12, 'firing')]);
    await expect(`Subject: ${replySubject(subject)}\n\n${update.text}`).toMatchFileSnapshot(
      '__snapshots__/storm-digest-update.email.txt',
    );
    expect(update.text).not.toContain('TRK-1004');
    expect(first.html).not.toMatch(/<script|<!channel/);
  });
});

describe('flapping incident (the fifth firing of TRK-0042 within 30 min)', () => {
  const url = new URL('../fixtures/alertmanager-0.25/firing-reefer-excursion.json', import.meta.url);
  const payload = JSON.parse(readFileSync(url, 'utf8')) as WebhookPayload;
  const start = Date.parse(payload.alerts[0]!.startsAt);
  const snapshot = mergeWebhook(undefined, payload, start + 1500).snapshot;
  const now = start + 2 * MINUTE;
  const flap: FlapShown = {
    anchor: 'a1b2c3d4e5f60718',
    times: 5,
    windowMs: 30 * MINUTE,
    lastSettledAt: start - 3 * MINUTE,
  };
  const view = buildView(snapshot, { now });

  it('Slack: the first episode’s root, updated in place with the counter and the last settle', async () => {
    const rendered = renderSlackRoot(view);
    flapBlock(rendered, flap, { timeZone: 'Europe/Amsterdam', now });
    const update = { channel: 'C0CRIT', ts: '1795000000.000100', ...rendered };
    expectWithinSlackLimits(update);
    await expect(`${JSON.stringify(update, null, 2)}\n`).toMatchFileSnapshot(
      '__snapshots__/flapping.slack.json',
    );
    const second = JSON.stringify(update.attachments[0]!.blocks[1]);
    expect(second).toContain('flapping: 5 times in 30 min');
    expect(second).toMatch(/last settled at \d\d:\d\d CET/);
    const reply = flapReplyText(flap, snapshot.incidentId, { timeZone: 'Europe/Amsterdam', now });
    await expect(`${reply}\n`).toMatchFileSnapshot('__snapshots__/flapping.slack-reply.txt');
    expectWithinSlackLimits({ text: reply });
  });

  it('email: a reply in the first episode’s thread, the counter first', async () => {
    const subject = replySubject(subjectFor(view));
    const mail = withFlapLine(templates.render(view, { kind: 'post' }, { subject, now }), flap, {
      timeZone: 'UTC',
      now,
    });
    await expect(`Subject: ${subject}\n\n${mail.text}`).toMatchFileSnapshot(
      '__snapshots__/flapping.email.txt',
    );
    await expect(mail.html).toMatchFileSnapshot('__snapshots__/flapping.email.html');
    expect(mail.text.split('\n')[0]).toMatch(/^Fired again — flapping: 5 times in 30 min · last settled at/);
  });
});
