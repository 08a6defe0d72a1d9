/**
 * Reminders with short intervals (critical every 2 s, stale after 6 s): they arrive as thread replies and as
 * `Re:` emails at roughly the interval while Alertmanager's repeats keep the group fresh, stop on resolve,
 * and stop on staleness after saying so once. Counts are asserted within bounds, never exact timing.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/app/relay.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import {
  mailsFor,
  metricsText,
  metricValue,
  post,
  rootsOf,
  sleep,
  startDeliveryRelay,
  startHarness,
} from '../support/delivery.js';
import type { FakeSlack, FakeSlackMessage } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('delivery-reminders');
let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;
const REPEAT_MS = 2000;
// Three intervals: a first post delayed by a loaded machine still leaves room for a reminder before staleness.
const STALE_MS = 6000;

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  relay = await startDeliveryRelay(prefix, fake, sink, {
    criticalRepeat: '2s',
    delivery: { stale_after: STALE_MS / 1000 },
  });
});

afterAll(async () => {
  await relay?.stop();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
  await deletePrefix(amPrefix);
});

const amPrefix = uniquePrefix('delivery-reminders-am');

const WAIT = 10_000;

/**
 * Alertmanager's repeat_interval as heartbeat: byte-identical copies, every `everyMs`, until stopped. Each is
 * a duplicate, except the first after the group went stale, which revives it (`revives`).
 */
function heartbeat(payload: WebhookPayload, everyMs: number, revives = false): { stop: () => Promise<void> } {
  let running = true;
  const loop = (async () => {
    let expected = revives ? 'accepted' : 'duplicate';
    while (running) {
      await sleep(everyMs);
      if (!running) break;
      expect((await post(relay, payload)).status).toBe(expected);
      expected = 'duplicate';
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

function rootOf(incidentId: string): FakeSlackMessage {
  const roots = rootsOf(fake, incidentId);
  expect(roots).toHaveLength(1);
  return roots[0]!;
}

const isReminder = (m: FakeSlackMessage) => /Reminder \d+: still firing/.test(m.text ?? '');

describe.concurrent('reminders', () => {
  it('arrive at roughly the interval as thread replies and Re: emails while the group is refreshed, and stop on resolve', async () => {
    const firing = inGroup(fixture('firing-postgresql-down'), 'cadence');
    const { incidentId } = await post(relay, firing);
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    const started = Date.now();
    const root = rootOf(incidentId);
    const beat = heartbeat(firing, 1000);

    // ~7 s of firing at a 2 s interval: 3 reminders expected. A loaded machine may run them late (fewer), never
    // early (more): the lower bound only says reminders came, the upper bound is the cadence.
    await sleep(7000);
    await beat.stop();
    const elapsed = Date.now() - started;
    const reminders = fake.replies(root.ts).filter(isReminder);
    expect(reminders.length).toBeGreaterThanOrEqual(1);
    expect(reminders.length).toBeLessThanOrEqual(Math.floor(elapsed / REPEAT_MS) + 1);
    expect(reminders.map((r) => r.text)).toEqual(
      reminders.map((_, i) => expect.stringContaining(`Reminder ${i + 1}:`)),
    );
    // Never two reminders in a burst. Each is due an interval after the previous one's job started; Slack's
    // receipt of the previous one may lag its start on a loaded machine, hence half an interval.
    const times = reminders.map((r) => Number(r.ts) * 1000);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThan(REPEAT_MS * 0.5);
    expect(fake.replies(root.ts).some((r) => r.text?.includes('has not re-sent'))).toBe(false);

    const mails = mailsFor(sink, incidentId);
    const reminderMails = mails.filter((m) => m.text?.startsWith('Reminder'));
    expect(reminderMails.length).toBeGreaterThanOrEqual(1);
    expect(reminderMails.length).toBeLessThanOrEqual(Math.floor(elapsed / REPEAT_MS) + 1);
    for (const mail of reminderMails) {
      expect(mail.subject).toBe(`Re: ${mails[0]!.subject}`);
      expect(mail.references[0]).toBe(mails[0]!.messageId);
    }

    // Resolve: one "Resolved after" reply, then silence for longer than the interval.
    await post(relay, inGroup(fixture('resolved-postgresql-down'), 'cadence'));
    await fake.waitFor(() => fake.replies(root.ts).some((r) => r.text?.includes('Resolved after')), WAIT);
    await sink.waitFor(() => mailsFor(sink, incidentId).some((m) => m.text?.startsWith('Resolved')), WAIT);
    const repliesAtResolve = fake.replies(root.ts).length;
    const mailsAtResolve = mailsFor(sink, incidentId).length;
    await sleep(REPEAT_MS * 1.5);
    expect(fake.replies(root.ts)).toHaveLength(repliesAtResolve);
    expect(mailsFor(sink, incidentId)).toHaveLength(mailsAtResolve);
    expect(
      metricValue(await metricsText(relay), 'relay_reminders_sent_total', { channel: 'slack' }),
    ).toBeGreaterThanOrEqual(2);
  });

  it('stop when Alertmanager stops re-sending the group: one "has not re-sent" reply and mail, then nothing until it re-sends', async () => {
    const payload = inGroup(fixture('firing-reefer-excursion'), 'stale');
    const { incidentId } = await post(relay, payload);
    await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
    const root = rootOf(incidentId);
    await fake.waitFor(
      () => fake.replies(root.ts).some((r) => r.text?.includes('has not re-sent')),
      STALE_MS + WAIT,
    );
    await sink.waitFor(
      () => mailsFor(sink, incidentId).some((m) => m.text?.startsWith('No heartbeat')),
      WAIT,
    );
    const repliesAtStale = fake.replies(root.ts).length;
    const mailsAtStale = mailsFor(sink, incidentId).length;
    // Before going stale at 6 s it reminded once to three times (2 s interval).
    const reminders = fake.replies(root.ts).filter(isReminder).length;
    expect(reminders).toBeGreaterThanOrEqual(1);
    expect(reminders).toBeLessThanOrEqual(3);

    await sleep(REPEAT_MS * 2);
    const replies = fake.replies(root.ts);
    expect(replies).toHaveLength(repliesAtStale);
    expect(replies.filter((r) => r.text?.includes('has not re-sent'))).toHaveLength(1);
    expect(replies.at(-1)!.text).toContain('has not re-sent');
    const mails = mailsFor(sink, incidentId);
    expect(mails).toHaveLength(mailsAtStale);
    const stale = mails.filter((m) => m.text?.startsWith('No heartbeat'));
    expect(stale).toHaveLength(1);
    expect(stale[0]!.subject).toBe(`Re: ${mails[0]!.subject}`);

    // "Reminders stop until it does": Alertmanager's next repeat revives the group (ingest queues its
    // deliveries although nothing else changed) and, since the alert still fires, reminders come back.
    const beat = heartbeat(payload, 1000, true);
    try {
      await fake.waitFor(() => fake.replies(root.ts).slice(repliesAtStale).some(isReminder), WAIT);
    } finally {
      await beat.stop();
    }
  });

  it('ask Alertmanager first: none while it reports the alerts silenced, and they resume once it reports them active', async () => {
    // A minimal Alertmanager API: GET /api/v2/alerts answers the alert in the state `state` holds (the filter
    // is recorded); it has been up for an hour and sends to the relay's receiver.
    const alertIn = (state: 'silenced' | 'active') => ({
      fingerprint: 'cbf4f2dadd95cc56',
      status: {
        state: state === 'active' ? 'active' : 'suppressed',
        silencedBy: state === 'silenced' ? ['0d1e2f'] : [],
        inhibitedBy: [],
      },
      receivers: [{ name: 'relay' }],
    });
    let state: 'silenced' | 'active' = 'silenced';
    const queries: URLSearchParams[] = [];
    const am = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://am');
      const json = (body: unknown) =>
        void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (url.pathname === '/api/v2/status')
        return json({ uptime: new Date(Date.now() - 3_600_000).toISOString() });
      if (url.pathname === '/api/v2/receivers') return json([{ name: 'relay' }]);
      if (url.pathname !== '/api/v2/alerts') return void res.writeHead(404).end();
      queries.push(url.searchParams);
      return json([alertIn(state)]);
    });
    await new Promise<void>((resolve) => am.listen(0, '127.0.0.1', resolve));
    const amRelay = await startDeliveryRelay(
      amPrefix,
      fake,
      sink,
      { criticalRepeat: '2s', delivery: { stale_after: 600 } },
      {},
      {
        ALERTMANAGER_URL: `http://127.0.0.1:${(am.address() as AddressInfo).port}`,
      },
    );
    try {
      const { incidentId } = await post(amRelay, inGroup(fixture('firing-postgresql-down'), 'am-check'));
      await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
      const root = rootOf(incidentId);
      // Silenced in Alertmanager's UI: the reminders due at ~2 s and ~4 s are skipped (each of the two
      // deliveries, Slack and email, asks once after its first message and before each of its reminders).
      await fake.waitFor(() => queries.length >= 6, WAIT);
      expect(mailsFor(sink, incidentId).filter((m) => m.text?.startsWith('Reminder'))).toHaveLength(0);
      expect(fake.replies(root.ts).filter(isReminder)).toHaveLength(0);
      const query = queries[0]!;
      // Every state is asked for (the API's default): an alert missing from the answer has ended.
      expect(query.get('silenced')).toBeNull();
      expect(query.get('inhibited')).toBeNull();
      expect(query.getAll('filter')).toEqual(
        expect.arrayContaining(['alertname="PostgreSQLDown"', 'severity="critical"']),
      );

      // The silence expires: the next check finds the alert active and reminds.
      state = 'active';
      await fake.waitFor(() => fake.replies(root.ts).some(isReminder), WAIT);
      expect(fake.replies(root.ts).filter(isReminder)[0]!.text).toContain('Reminder 1:');
    } finally {
      await amRelay.stop();
      await new Promise<void>((resolve) => am.close(() => resolve()));
    }
  });
});
