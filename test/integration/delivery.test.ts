/**
 * Delivery end to end: a real relay (real Redis, BullMQ worker, @slack/web-api WebClient, nodemailer) posting
 * to the fake Slack Web API and the SMTP sink. An incident's life: first firing, a join, a partial resolve,
 * the full resolve (Slack updated in place + thread, email threaded), a truncated group, hostile labels.
 * Reminders and staleness are off here (1h repeat, long stale_after); delivery-reminders.test.ts covers them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/app/relay.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import {
  CRITICAL,
  callsFor,
  clone,
  deliveryLog,
  headerOf,
  mailsFor,
  minutesAgo,
  ONCALL,
  post,
  rootsOf,
  slackTexts,
  sleep,
  startDeliveryRelay,
  startedAgo,
  startHarness,
} from '../support/delivery.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('delivery');
let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  relay = await startDeliveryRelay(prefix, fake, sink, {
    criticalRepeat: '1h',
    delivery: { stale_after: 600 },
  });
});

afterAll(async () => {
  await relay?.stop();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

const WAIT = 10_000;

describe('first firing', () => {
  it('posts one Block Kit message in #alerts-critical and sends one email to on-call', async () => {
    const payload = inGroup(fixture('firing-reefer-excursion'), 'first');
    const { incidentId } = await post(relay, payload);

    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await sink.waitFor(() => mailsFor(sink, incidentId).length === 1, WAIT);

    // The first post names the channel as configured; Slack answers with its id, which the log keeps.
    const firstPost = fake
      .callsTo('chat.postMessage')
      .find((c) => JSON.stringify(c.body).includes(incidentId));
    expect(firstPost?.body.channel).toBe(CRITICAL);
    const root = rootsOf(fake, incidentId)[0]!;
    expect(root.channel).toBe('C0CRIT');
    expect(root.thread_ts).toBeUndefined();

    const attachment = root.attachments?.[0] as { color: string; blocks: { type: string }[] };
    expect(attachment.color).toBe('#E01E5A');
    expect(attachment.blocks.length).toBeGreaterThan(2);
    expect(headerOf(root)).toBe('🔴 CRITICAL · ReeferTemperatureExcursion · TRK-0042');
    const texts = slackTexts(root).join('\n');
    expect(root.text).toContain('ReeferTemperatureExcursion · TRK-0042');
    expect(texts).toContain('Reefer temperature 9.4C above 8C limit');
    // The alert's own labels, as shown to the dispatcher.
    expect(texts).toContain('vehicle_id=`TRK-0042`');
    expect(texts).toContain('shipment_id=`SHP-2026-11-0193`');
    expect(texts).toContain('zone=`cargo-1`');
    // Links: the alert's source, and Alertmanager filtered on the group.
    expect(texts).toContain('<http://prometheus:9090/graph?g0.expr=reefer_temp|Source>');
    expect(texts).toMatch(
      /<http:\/\/vm:19095\/#\/alerts\?receiver=relay&(amp;)?filter=%7Balertname%3D%22ReeferTemperatureExcursion%22[^|>]*\|Alertmanager>/,
    );
    expect(texts).toContain(`incident \`${incidentId}\``);

    const mail = mailsFor(sink, incidentId)[0]!;
    expect(mail.subject).toBe('[CRITICAL] ReeferTemperatureExcursion · TRK-0042');
    expect(mail.to).toEqual([ONCALL]);
    expect(mail.messageId).toMatch(new RegExp(`^<relay\\.${incidentId}\\.[0-9a-f]+\\.0@`));
    expect(mail.inReplyTo).toBeUndefined();
    expect(mail.text).toContain('New incident');
    expect(mail.text).toContain('vehicle_id=TRK-0042');
    expect(mail.html).toContain('TRK-0042');
    // Handlebars escapes '=' in attributes as &#x3D;, which browsers decode back.
    expect(mail.html?.replace(/&#x3D;/g, '=')).toContain(
      'href="http://prometheus:9090/graph?g0.expr=reefer_temp"',
    );

    // The log records where the message went, so updates and replies find it.
    const log = await deliveryLog(relay, payload, incidentId, 'slack', CRITICAL);
    expect(log.root).toMatchObject({ channel: 'C0CRIT', ts: root.ts });
    expect(log.lastOutcome).toBe('delivered');

    // Settled: still one root and one on-call mail (re-renders update in place, never post again).
    await sleep(500);
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
    expect(mailsFor(sink, incidentId)).toHaveLength(1);
  });
});

describe('escalation destinations', () => {
  it('hear of the firing and of the resolve, in their own thread', async () => {
    // The chilled-pharma shipment, 2 h into a 30 min excursion budget: the catalog adds the QA list.
    const QA = 'qa@coldchain.example';
    const since = minutesAgo(120);
    const { incidentId } = await post(
      relay,
      startedAgo(inGroup(fixture('firing-reefer-excursion'), 'escalation'), since),
    );
    await sink.waitFor(
      () => mailsFor(sink, incidentId, QA).length === 1 && mailsFor(sink, incidentId).length === 1,
      WAIT,
    );
    const qaFirst = mailsFor(sink, incidentId, QA)[0]!;
    expect(qaFirst.to).toEqual([QA, 'qa-pharma@coldchain.example']);
    // The message states the rule that escalated it (the fixture is critical already: "rule matched").
    expect(qaFirst.text).toContain('(rule pharma-excursion-half-budget)');
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await fake.waitFor(
      () =>
        slackTexts(rootsOf(fake, incidentId)[0]!).join('\n').includes('(rule pharma-excursion-half-budget)'),
      WAIT,
    );

    await post(relay, startedAgo(inGroup(fixture('resolved-reefer-excursion'), 'escalation'), since));
    await sink.waitFor(
      () => mailsFor(sink, incidentId, QA).length === 2 && mailsFor(sink, incidentId).length === 2,
      WAIT,
    );
    const qaResolved = mailsFor(sink, incidentId, QA)[1]!;
    expect(qaResolved.text).toMatch(/^Resolved/);
    expect(qaResolved.subject).toBe(`Re: ${qaFirst.subject}`);
    expect(qaResolved.inReplyTo).toBe(qaFirst.messageId);
    // Two separate threads: the on-call list's and the QA list's Message-IDs differ.
    expect(mailsFor(sink, incidentId)[0]!.messageId).not.toBe(qaFirst.messageId);
  });
});

/** group-first with only its first alert, so the second one can join later. */
function firstAlertOnly(payload: WebhookPayload): WebhookPayload {
  const copy = clone(payload);
  copy.alerts = copy.alerts.slice(0, 1);
  return copy;
}

function fullyResolved(payload: WebhookPayload): WebhookPayload {
  const copy = clone(payload);
  copy.status = 'resolved';
  copy.truncatedAlerts = 0;
  copy.alerts = copy.alerts.map((a) => ({
    ...a,
    status: 'resolved' as const,
    endsAt: a.endsAt.startsWith('0001') ? '2026-11-26T03:09:30Z' : a.endsAt,
  }));
  return copy;
}

describe('an incident from first firing to resolve', () => {
  const tag = 'life';
  const first = firstAlertOnly(inGroup(fixture('group-first-replica-a'), tag));
  let incidentId: string;
  let rootTs: string;

  const replies = () => fake.replies(rootTs);
  const updatesOfRoot = () => fake.callsTo('chat.update').filter((c) => c.body.ts === rootTs);

  it('first firing: one root, one email', async () => {
    ({ incidentId } = await post(relay, first));
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await sink.waitFor(() => mailsFor(sink, incidentId).length === 1, WAIT);
    rootTs = rootsOf(fake, incidentId)[0]!.ts;
    expect(slackTexts(rootsOf(fake, incidentId)[0]!).join('\n')).toContain('1 firing');
  });

  it('join: the root is updated in place and the thread says who joined; the email thread gets a Re:', async () => {
    const res = await post(relay, inGroup(fixture('group-first-replica-a'), tag));
    expect(res.incidentId).toBe(incidentId);
    await fake.waitFor(() => replies().some((r) => r.text?.includes('TRK-0077')), WAIT);
    const reply = replies().find((r) => r.text?.includes('TRK-0077'))!;
    expect(reply.text).toContain(':heavy_plus_sign: 1 firing: `TRK-0077`');
    expect(reply.text).toContain('Now 2 firing.');
    expect(reply.channel).toBe('C0CRIT');
    await fake.waitFor(() => slackTexts(fake.messages.get(rootTs)!).join('\n').includes('2 firing'), WAIT);
    expect(rootsOf(fake, incidentId)).toHaveLength(1);

    await sink.waitFor(() => mailsFor(sink, incidentId).length === 2, WAIT);
    const [firstMail, change] = mailsFor(sink, incidentId);
    expect(change!.subject).toBe(`Re: ${firstMail!.subject}`);
    expect(change!.text).toContain('1 more firing (TRK-0077)');
    expect(change!.inReplyTo).toBe(firstMail!.messageId);
  });

  it('partial resolve: the thread says which alert resolved and that Alertmanager left one out', async () => {
    await post(relay, inGroup(fixture('group-partial-resolve-replica-a'), tag));
    await fake.waitFor(() => replies().some((r) => r.text?.includes('resolved: `TRK-0077`')), WAIT);
    const reply = replies().find((r) => r.text?.includes('resolved: `TRK-0077`'))!;
    expect(reply.text).toContain(':white_check_mark: 1 resolved: `TRK-0077`');
    expect(reply.text).toContain('Alertmanager now leaves 1 alerts out');
    await fake.waitFor(() => {
      const text = slackTexts(fake.messages.get(rootTs)!).join('\n');
      return text.includes('1 firing, 1 resolved') && text.includes('Alertmanager left 1 more alert out');
    }, WAIT);
    expect(headerOf(fake.messages.get(rootTs)!)).toMatch(/^🔴 CRITICAL/);

    await sink.waitFor(() => mailsFor(sink, incidentId).length === 3, WAIT);
    const partial = mailsFor(sink, incidentId)[2]!;
    expect(partial.text).toContain('1 resolved (TRK-0077)');
    expect(partial.subject).toBe('Re: [CRITICAL] ReeferTemperatureExcursion');
  });

  it('full resolve: the root turns resolved via chat.update on the channel id, the thread and the mail thread say so', async () => {
    await post(relay, fullyResolved(inGroup(fixture('group-partial-resolve-replica-a'), tag)));
    await fake.waitFor(() => replies().some((r) => r.text?.includes('Resolved after')), WAIT);
    await fake.waitFor(
      () => headerOf(fake.messages.get(rootTs)!)?.startsWith('✅ RESOLVED (was CRITICAL)') === true,
      WAIT,
    );
    const root = fake.messages.get(rootTs)!;
    expect((root.attachments?.[0] as { color: string } | undefined)?.color).toBe('#2EB67D');
    expect(slackTexts(root).join('\n')).toContain('Resolved after');
    expect(root.updates).toBeGreaterThanOrEqual(3);
    // chat.update only accepts the id; every update of this root used it, and Slack accepted each.
    expect(updatesOfRoot().length).toBe(root.updates);
    for (const call of updatesOfRoot()) {
      expect(call.body.channel).toBe('C0CRIT');
      expect(call.response.body?.ok).toBe(true);
    }
    expect(rootsOf(fake, incidentId)).toHaveLength(1);
    const resolvedReply = replies().filter((r) => r.text?.includes('Resolved after'));
    expect(resolvedReply).toHaveLength(1);
    expect(resolvedReply[0]!.text).toMatch(/^:white_check_mark: Resolved after \d+/);

    await sink.waitFor(() => mailsFor(sink, incidentId).length === 4, WAIT);
    const mails = mailsFor(sink, incidentId);
    const resolved = mails[3]!;
    expect(resolved.subject).toBe(`Re: ${mails[0]!.subject}`);
    expect(resolved.text).toContain('Resolved');
    expect(resolved.inReplyTo).toBe(mails[2]!.messageId);
    expect(resolved.references[0]).toBe(mails[0]!.messageId);
    expect(resolved.references).toEqual(mails.slice(0, 3).map((m) => m.messageId));
    expect(new Set(mails.map((m) => m.messageId)).size).toBe(4);

    // Nothing more follows a resolve: no reminder, no duplicate reply, no further mail.
    await sleep(800);
    expect(replies().filter((r) => r.text?.includes('Resolved after'))).toHaveLength(1);
    expect(mailsFor(sink, incidentId)).toHaveLength(4);
    // Every Slack call of this incident went through.
    for (const call of callsFor(fake, incidentId, [rootTs])) expect(call.response.body?.ok).toBe(true);
  });
});

describe('level-triggered: jobs collapse, reorder and race, the destination converges', () => {
  it('a burst of webhooks at two relay processes ends in one resolved root, one resolve reply and a resolve mail', async () => {
    const other = await startDeliveryRelay(prefix, fake, sink, {
      criticalRepeat: '1h',
      delivery: { stale_after: 600 },
    });
    try {
      const tag = 'burst';
      const steps = [
        firstAlertOnly(inGroup(fixture('group-first-replica-a'), tag)),
        inGroup(fixture('group-first-replica-b'), tag),
        inGroup(fixture('group-truncated-replica-a'), tag),
        inGroup(fixture('group-partial-resolve-replica-b'), tag),
        fullyResolved(inGroup(fixture('group-partial-resolve-replica-a'), tag)),
      ];
      let incidentId = '';
      // No waiting between webhooks: jobs for one delivery are queued while others run, at either relay.
      for (const [i, step] of steps.entries()) ({ incidentId } = await post(i % 2 ? other : relay, step));

      await fake.waitFor(
        () => rootsOf(fake, incidentId).some((m) => headerOf(m)?.startsWith('✅ RESOLVED') === true),
        WAIT,
      );
      const root = rootsOf(fake, incidentId)[0]!;
      await fake.waitFor(() => fake.replies(root.ts).some((r) => r.text?.includes('Resolved after')), WAIT);
      await sink.waitFor(
        () =>
          mailsFor(sink, incidentId).some(
            (m) => m.text?.startsWith('Resolved') || m.text?.startsWith('Fired and resolved'),
          ),
        WAIT,
      );
      await sleep(1000);

      expect(rootsOf(fake, incidentId)).toHaveLength(1);
      expect(slackTexts(fake.messages.get(root.ts)!).join('\n')).toContain('Resolved after');
      const replies = fake.replies(root.ts);
      expect(replies.filter((r) => r.text?.includes('Resolved after'))).toHaveLength(1);
      expect(replies.at(-1)!.text).toContain('Resolved after');
      // However the changes were collapsed, each reply and mail went out once, in order, ending with the resolve.
      expect(new Set(replies.map((r) => r.text)).size).toBe(replies.length);
      const mails = mailsFor(sink, incidentId);
      expect(new Set(mails.map((m) => m.messageId)).size).toBe(mails.length);
      expect(mails.at(-1)!.text).toMatch(/^(Resolved|Fired and resolved)/);
      expect(mails.filter((m) => /^(Resolved|Fired and resolved)/.test(m.text ?? ''))).toHaveLength(1);
      const log = await deliveryLog(relay, steps[0]!, incidentId, 'slack', CRITICAL);
      expect(log.root?.ts).toBe(root.ts);
      expect(log.inFlight).toBeUndefined();
    } finally {
      await other.stop();
    }
  });
});

describe('a truncated group', () => {
  it('shows how many alerts Alertmanager left out, in Slack and in the email', async () => {
    const { incidentId } = await post(relay, inGroup(fixture('group-truncated-replica-a'), 'truncated'));
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    const text = slackTexts(rootsOf(fake, incidentId)[0]!).join('\n');
    expect(text).toContain('Alertmanager left 1 more alert out of this notification (max_alerts)');
    expect(text).toContain('2 firing');
    await sink.waitFor(() => mailsFor(sink, incidentId).length === 1, WAIT);
    const mail = mailsFor(sink, incidentId)[0]!;
    expect(mail.text).toContain('Alertmanager left 1 more alert(s) out of this notification');
    expect(mail.html).toContain('Alertmanager left 1 more alert(s) out of this notification');
  });
});

describe('hostile label values', () => {
  it('shows them as text: no Slack mention or link, no HTML, no extra email header', async () => {
    const payload = clone(inGroup(fixture('firing-reefer-excursion'), 'hostile'));
    const labels = {
      ...payload.alerts[0]!.labels,
      vehicle_id: 'TRK-0666\r\nBcc: evil@x.example',
      shipment_id: '<http://x|y>',
      zone: '<!channel>',
      driver: '<script>alert(1)</script>',
    };
    payload.alerts[0]!.labels = labels;
    payload.commonLabels = { ...labels };
    payload.alerts[0]!.annotations = { summary: 'Wake up <!channel> <!here> <@U0001>' };
    payload.commonAnnotations = { ...payload.alerts[0]!.annotations };
    const { incidentId } = await post(relay, payload);

    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    await sink.waitFor(() => mailsFor(sink, incidentId).length === 1, WAIT);
    const root = rootsOf(fake, incidentId)[0]!;
    const sent = fake.calls.filter(
      (c) => c.method.startsWith('chat.') && JSON.stringify(c.body).includes(incidentId),
    );
    expect(sent.length).toBeGreaterThan(0);
    for (const call of sent) {
      for (const text of slackTexts(call.body)) {
        expect(text).not.toContain('<!channel>');
        expect(text).not.toContain('<!here>');
        expect(text).not.toContain('<@U0001>');
        expect(text).not.toContain('<http://x|y>');
        expect(text).not.toContain('<script>');
      }
    }
    const texts = slackTexts(root).join('\n');
    expect(texts).toContain('&lt;!channel&gt;');
    expect(texts).toContain('&lt;http://x|y&gt;');
    expect(texts).toContain('&lt;script&gt;');
    expect(headerOf(root)).toContain('TRK-0666');

    const mail = mailsFor(sink, incidentId)[0]!;
    expect(mail.to).toEqual([ONCALL]);
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.subject).toContain('TRK-0666');
    expect(mail.headers.has('bcc')).toBe(false);
    const rawHeaders = mail.raw.split(/\r?\n\r?\n/)[0]!;
    // Each header line (folded continuations start with white space) is a header the relay meant to send.
    expect(rawHeaders).not.toMatch(/^bcc:/im);
    const names = rawHeaders
      .split(/\r?\n/)
      .filter((l) => !/^\s/.test(l))
      .map((l) => l.split(':')[0]!.toLowerCase());
    expect(
      names.filter(
        (n) =>
          ![
            'content-type',
            'from',
            'to',
            'subject',
            'message-id',
            'date',
            'mime-version',
            'x-relay-incident',
            'auto-submitted',
            'in-reply-to',
            'references',
          ].includes(n),
      ),
    ).toEqual([]);
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;!channel&gt;');
    // No recipient was smuggled into the envelope either.
    expect(sink.messages.flatMap((m) => m.to)).not.toContain('evil@x.example');
  });
});
