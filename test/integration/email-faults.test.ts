/**
 * Email under SMTP faults, through a whole relay (real Redis, BullMQ, the SMTP sink with injected faults):
 * a server that hangs after DATA is given up at `smtp_timeout` and the mail retried; a resend after an
 * ambiguous failure keeps its Message-ID only when it says the same thing; and a late retry never tells a
 * list "Acknowledged" after "Resolved". Ambiguous failures are injected with a hang the test ends itself
 * (`dropHung`), so the order of events is the test's, not the machine's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/app/relay.js';
import {
  deliveryLog,
  mailsFor,
  metricsText,
  metricValue,
  minutesAgo,
  ONCALL,
  post,
  startDeliveryRelay,
  startedAgo,
  waitForIdle,
} from '../support/delivery.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { type ReceivedMail, type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

/** Each wait; a test may wait several times, so tests here may take up to 60 s on a loaded machine. */
const WAIT = 30_000;
const ACK_SECRET = 'ack-secret-for-email-fault-tests';

/** The event a relay mail announces: the first line of its text part ("New incident", "Resolved", …). */
const eventOf = (mail: ReceivedMail) => (mail.text ?? '').split('\n')[0]?.trim();

interface Setup {
  prefix: string;
  fake: FakeSlack;
  sink: SmtpSink;
  relay: RunningRelay;
}

async function setUp(name: string, smtpTimeoutSeconds: number): Promise<Setup> {
  const prefix = uniquePrefix(name);
  const [fake, sink] = await Promise.all([startFakeSlack(), startSmtpSink()]);
  const relay = await startDeliveryRelay(
    prefix,
    fake,
    sink,
    // No reminders or staleness: every mail in a test is one the test caused.
    {
      criticalRepeat: '1h',
      delivery: { stale_after: 600, slack_timeout: 30, smtp_timeout: smtpTimeoutSeconds },
    },
    {},
    { RELAY_ACK_SECRET: ACK_SECRET, PUBLIC_URL: 'http://relay.test' },
  );
  return { prefix, fake, sink, relay };
}

async function tearDown(setup: Setup | undefined): Promise<void> {
  if (!setup) return;
  await setup.relay.stop();
  await setup.fake.close();
  await setup.sink.close();
  await deletePrefix(setup.prefix);
}

describe('a server that reads the message and never answers', { timeout: 60_000 }, () => {
  let setup: Setup;
  // The fault hangs for good, so a short smtp_timeout models it; no healthy send here depends on it.
  beforeAll(async () => {
    setup = await setUp('email-hang', 2);
  });
  afterAll(() => tearDown(setup));

  it('is given up at smtp_timeout; the retry delivers the same Message-ID and the possible duplicate is counted', async () => {
    const { relay, sink } = setup;
    const before = await metricsText(relay);
    sink.failNext({ kind: 'hang-after-data' });
    const payload = inGroup(fixture('firing-postgresql-down'), 'hang');
    const { incidentId } = await post(relay, payload);
    // Before the fix smtp_timeout never reached nodemailer, and this mail waited out its 10 min idle timeout.
    await sink.waitFor((s) => mailsFor(s, incidentId).length >= 1, WAIT);
    await waitForIdle(relay);

    const hung = sink.hung.filter((m) => m.headers.get('x-relay-incident') === incidentId);
    expect(hung).toHaveLength(1);
    const delivered = mailsFor(sink, incidentId);
    // Same content, same Message-ID: a mail system collapses a copy the hung server may have delivered.
    expect(new Set(delivered.map((m) => m.messageId))).toEqual(new Set([hung[0]!.messageId]));
    const log = await deliveryLog(relay, payload, incidentId, 'email', ONCALL);
    expect(log.root?.messageId).toBe(hung[0]!.messageId);
    expect(log.lastOutcome).toBe('delivered');
    expect(log.inFlight).toBeUndefined();
    const after = await metricsText(relay);
    expect(
      metricValue(after, 'relay_duplicate_posts_total', { channel: 'email' }) -
        metricValue(before, 'relay_duplicate_posts_total', { channel: 'email' }),
    ).toBeGreaterThanOrEqual(1);
  });
});

describe('a resend after an ambiguous failure', { timeout: 60_000 }, () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp('email-ambiguous', 30);
  });
  afterAll(() => tearDown(setup));

  it('that now announces the resolve gets a new Message-ID, not the unrecorded firing mail’s', async () => {
    const { relay, sink } = setup;
    // The server stores the firing mail and loses its answer: delivered, but the relay cannot know.
    sink.failNext({ kind: 'hang-after-data', delivered: true });
    const firing = inGroup(fixture('firing-postgresql-down'), 'ambiguous-resolve');
    const { incidentId } = await post(relay, firing);
    await sink.waitFor((s) => s.hung.some((m) => m.headers.get('x-relay-incident') === incidentId), WAIT);
    await post(relay, inGroup(fixture('resolved-postgresql-down'), 'ambiguous-resolve'));
    sink.dropHung();

    await sink.waitFor((s) => mailsFor(s, incidentId).length === 2, WAIT);
    await waitForIdle(relay);
    const [first, resolve] = mailsFor(sink, incidentId);
    expect(eventOf(first!)).toBe('New incident');
    expect(eventOf(resolve!)).toBe('Fired and resolved');
    // Before the fix both were "<relay.<incident>.<delivery>.0@…>": a mail system that drops duplicate
    // Message-IDs would never show the resolve.
    expect(resolve!.messageId).not.toBe(first!.messageId);
    const log = await deliveryLog(relay, firing, incidentId, 'email', ONCALL);
    expect(log.root?.messageId).toBe(resolve!.messageId);
    expect(log.references).toEqual([resolve!.messageId]);
    expect(mailsFor(sink, incidentId)).toHaveLength(2);
  });
});

describe('an acknowledgement not yet told when the incident resolves', { timeout: 60_000 }, () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp('email-ack-resolve', 30);
  });
  afterAll(() => tearDown(setup));

  it('is not sent after "Resolved"', async () => {
    const { relay, sink } = setup;
    const firing = inGroup(fixture('firing-postgresql-down'), 'ack-then-resolve');
    const { incidentId } = await post(relay, firing);
    await sink.waitFor((s) => mailsFor(s, incidentId).length === 1, WAIT);
    const link = /http:\/\/relay\.test(\/ack\/[\w.-]+)/.exec(mailsFor(sink, incidentId)[0]!.text ?? '')?.[1];
    expect(link, 'the firing mail carries an acknowledge link').toBeDefined();

    // The "Acknowledged" mail reaches a server that never answers; meanwhile the incident resolves.
    sink.failNext({ kind: 'hang-after-data' });
    expect((await fetch(`${relay.url}${link}`, { method: 'POST' })).status).toBe(200);
    await sink.waitFor((s) => s.hung.some((m) => m.headers.get('x-relay-incident') === incidentId), WAIT);
    expect(eventOf(sink.hung.at(-1)!)).toBe('Acknowledged');
    await post(relay, inGroup(fixture('resolved-postgresql-down'), 'ack-then-resolve'));
    sink.dropHung();

    await sink.waitFor((s) => mailsFor(s, incidentId).some((m) => eventOf(m) === 'Resolved'), WAIT);
    await waitForIdle(relay);
    // The list heard "New incident" then "Resolved", and nothing older after it.
    expect(mailsFor(sink, incidentId).map(eventOf)).toEqual(['New incident', 'Resolved']);
    const log = await deliveryLog(relay, firing, incidentId, 'email', ONCALL);
    expect(log.told?.status).toBe('resolved');
  });
});

describe('an escalated list that joins late', { timeout: 60_000 }, () => {
  const QA = 'qa@coldchain.example';
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp('email-escalated', 30);
  });
  afterAll(() => tearDown(setup));

  it('gets no "Acknowledged" after a first message that already said "Fired and resolved"', async () => {
    const { relay, sink } = setup;
    // A chilled-pharma shipment 2 h into its 30 min excursion budget: escalation adds the QA list. Its first
    // mail reaches a server that stores it and never answers.
    sink.failNext({ kind: 'hang-after-data', delivered: true, to: QA });
    const startsAt = minutesAgo(120);
    const firing = startedAgo(inGroup(fixture('firing-reefer-excursion'), 'late-qa'), startsAt);
    const { incidentId } = await post(relay, firing);
    const ofIncident = (m: ReceivedMail) => m.headers.get('x-relay-incident') === incidentId;
    await sink.waitFor((s) => s.hung.some((m) => ofIncident(m) && m.to.includes(QA)), WAIT);
    await sink.waitFor((s) => mailsFor(s, incidentId).length === 1, WAIT);
    const link = /http:\/\/relay\.test(\/ack\/[\w.-]+)/.exec(mailsFor(sink, incidentId)[0]!.text ?? '')?.[1];
    expect(link, 'the on-call mail carries an acknowledge link').toBeDefined();

    // Acknowledged, then resolved, while the QA list's first send still hangs.
    expect((await fetch(`${relay.url}${link}`, { method: 'POST' })).status).toBe(200);
    // The on-call list hears of the acknowledgement before the resolve arrives (a resolve first would rightly
    // leave the acknowledgement unannounced there too).
    await sink.waitFor((s) => mailsFor(s, incidentId).some((m) => eventOf(m) === 'Acknowledged'), WAIT);
    await post(relay, startedAgo(inGroup(fixture('resolved-reefer-excursion'), 'late-qa'), startsAt));
    await sink.waitFor((s) => mailsFor(s, incidentId).some((m) => eventOf(m) === 'Resolved'), WAIT);
    sink.dropHung();

    await sink.waitFor(
      (s) => mailsFor(s, incidentId, QA).some((m) => eventOf(m) === 'Fired and resolved'),
      WAIT,
    );
    await waitForIdle(relay);
    // Before the fix the next run for the list, told "Fired and resolved" already, went on to "Acknowledged".
    expect(mailsFor(sink, incidentId, QA).map(eventOf)).toEqual(['New incident', 'Fired and resolved']);
    expect(mailsFor(sink, incidentId).map(eventOf)).toEqual(['New incident', 'Acknowledged', 'Resolved']);
  });
});
