/**
 * The ladder and the shift handoff with a real `schedules:` policy and the real on-call resolver (issue 12):
 * `schedule:primary` in a step's mention and email becomes whoever the rotation has on call; an iCal
 * schedule whose URL fails says "on-call unknown" while the step still reaches its other destinations; the
 * acknowledge page names the schedule member the link was sent to; a handoff digest lists exactly the open
 * incidents, once although two relays share the prefix. Only the handoff instant is brought forward (the
 * rotation's own is 09:00 daily): the resolver's nextHandoff answers a moment a few seconds ahead.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { signAckToken } from '../../src/channels/email/ack-link.js';
import type { Config } from '../../src/config/config.js';
import { HANDOFF_QUEUE, handoffJobId } from '../../src/deliver/handoff.js';
import { groupIdOf } from '../../src/domain/model.js';
import { queuePrefix } from '../../src/enqueue/delivery-queue.js';
import { createOnCallResolver } from '../../src/oncall/resolver.js';
import type { OnCallResolver } from '../../src/oncall/types.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { testConfig } from '../support/config.js';
import { deliveryEnv, mailsFor, metricsText, metricValue, post, rootsOf } from '../support/delivery.js';
import { DEFAULT_SLACK_CHANNELS, type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

const ACK_SECRET = 'oncall-test-ack-secret-0123456789';
const MARIA = 'maria@coldchain.example';
const HOUR = 3600_000;

function schedulesPolicy(): string {
  const route = {
    name: 'critical',
    matchers: ['severity="critical"'],
    slack: ['#alerts-critical'],
    email: ['oncall'],
    repeat: '1h',
    escalate: [
      {
        after: '2s',
        slack: ['#dispatch-duty'],
        email: ['schedule:primary', 'schedule:secondary'],
        mention: ['schedule:primary'],
      },
    ],
  };
  const schedules = {
    primary: {
      timezone: 'Europe/Amsterdam',
      handoff: '09:00',
      rotation: 'daily',
      members: [{ name: 'Maria Jansen', slack: 'U0123ABCD', email: MARIA }],
      handoff_slack: '#oncall',
    },
    secondary: {
      // Nothing listens on the discard port: the calendar cannot be read at run time.
      ical: 'http://127.0.0.1:9/secondary.ics',
      members: [{ name: 'Anna Bakker', slack: 'U0789IJKL', email: 'anna@coldchain.example' }],
    },
  };
  return [
    'routes:',
    `  - ${JSON.stringify(route)}`,
    'fallback_route: critical',
    `schedules: ${JSON.stringify(schedules)}`,
    `delivery: ${JSON.stringify({ backoff: 0.2, max_backoff: 1, attempts: 3, slack_pace: 0.05, shutdown_grace: 1, slack_timeout: 30, smtp_timeout: 30 })}`,
  ].join('\n');
}

let fake: FakeSlack;
let sink: SmtpSink;
const prefix = uniquePrefix('oncall-ladder');
const relays: RunningRelay[] = [];
let config: Config;
/** The one handoff the test's resolver knows (ms); far ahead until the test sets it. */
let handoffAt = Number.MAX_SAFE_INTEGER;

/** The real resolver over the policy's schedules, with the handoff instant brought forward. */
function resolverFor(real: OnCallResolver): OnCallResolver {
  return {
    names: () => real.names(),
    whoIsOnCall: (schedule, at) => real.whoIsOnCall(schedule, at),
    // The handoff the test sets, then one an hour later (which the run schedules and nobody waits for).
    nextHandoff: async (_schedule, after) =>
      handoffAt === Number.MAX_SAFE_INTEGER ? undefined : after < handoffAt ? handoffAt : handoffAt + HOUR,
  };
}

async function startOnCallRelay(): Promise<RunningRelay> {
  const real = createOnCallResolver(config.policy.schedules, {
    baseDir: process.cwd(),
    fetchTimeoutMs: 2000,
  });
  const relay = await startRelay(config, { oncall: resolverFor(real) });
  relays.push(relay);
  return relay;
}

const payloadFor = (tag: string): WebhookPayload => inGroup(fixture('firing-postgresql-down'), tag);

beforeAll(async () => {
  [fake, sink] = await Promise.all([
    startFakeSlack({
      channels: { ...DEFAULT_SLACK_CHANNELS, 'dispatch-duty': 'C0DISP', oncall: 'C0ONCALL' },
    }),
    startSmtpSink(),
  ]);
  config = testConfig(
    prefix,
    { ...deliveryEnv(fake, sink), RELAY_ACK_SECRET: ACK_SECRET },
    schedulesPolicy(),
  );
});

afterAll(async () => {
  for (const relay of relays) await relay.stop();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

describe('escalation with on-call schedules', () => {
  it('mentions and mails whoever is on call, and says which schedule could not answer', async () => {
    const relay = await startOnCallRelay();
    const payload = payloadFor('schedule-step');
    const { incidentId } = await post(relay, payload);

    await sink.waitFor(() => mailsFor(sink, incidentId, MARIA).length === 1, 30_000);
    await fake.waitFor(() => rootsOf(fake, incidentId, '#dispatch-duty').length === 1, 30_000);
    const [root] = rootsOf(fake, incidentId, '#alerts-critical');
    await pollUntil(
      () => fake.replies(root!.ts).some((m) => m.text?.includes('Escalated to')),
      30_000,
      () => 'the escalation reply',
    );
    const reply = fake.replies(root!.ts).find((m) => m.text?.includes('Escalated to'))!.text!;
    expect(reply).toContain(`Escalated to #dispatch-duty, ${MARIA} after 2s without acknowledgement`);
    expect(reply).toContain('on-call unknown (schedule secondary unreadable)');
    expect(reply).toContain('<@U0123ABCD>');
    expect(reply).not.toContain('U0789IJKL');
    expect(mailsFor(sink, incidentId, 'anna@coldchain.example')).toHaveLength(0);
    expect(
      metricValue(await metricsText(relay), 'relay_oncall_unknown_total', { schedule: 'secondary' }),
    ).toBe(1);

    // Maria's mail carries an acknowledge link addressed to her: the page asks who, prefilled with her name.
    const link = /\/ack\/[\w.-]+/.exec(mailsFor(sink, incidentId, MARIA)[0]!.text ?? '')?.[0];
    expect(link).toBeDefined();
    const page = await (await fetch(`${relay.url}${link}`)).text();
    expect(page).toContain('value="Maria Jansen"');
    // An unusable name changes nothing.
    const bad = await fetch(`${relay.url}${link}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: 'x'.repeat(101) }).toString(),
    });
    expect(bad.status).toBe(400);
    const flags = await relay.deliveries.loadFlags(groupIdOf(payload.receiver, payload.groupKey), incidentId);
    expect(flags.acknowledged).toBeUndefined();
  }, 60_000);

  it('posts one handoff digest of exactly the open incidents, and mails it to the incoming person', async () => {
    const [relay] = relays;
    const open = payloadFor('digest-open');
    const acked = payloadFor('digest-acked');
    const closed = payloadFor('digest-closed');
    const [a, b, c] = await Promise.all([post(relay!, open), post(relay!, acked), post(relay!, closed)]);
    await post(relay!, inGroup(fixture('resolved-postgresql-down'), 'digest-closed'));
    const token = signAckToken(ACK_SECRET, {
      groupId: groupIdOf(acked.receiver, acked.groupKey),
      incidentId: b.incidentId,
      who: 'oncall@coldchain.example',
      exp: Math.floor(Date.now() / 1000) + 3600,
    });
    const ack = await fetch(`${relay!.url}/ack/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=Tom+de+Vries',
    });
    expect(ack.status).toBe(200);

    // The handoff, a few seconds ahead; a second relay on the same prefix schedules the same job.
    handoffAt = Date.now() + 3000;
    await relays[0]!.stop();
    relays.shift();
    await startOnCallRelay();
    await startOnCallRelay();

    await fake.waitFor(() => fake.topLevelMessages('#oncall').length >= 1, 30_000);
    await sink.waitFor(() => sink.messages.some((m) => m.subject?.startsWith('Shift handoff')), 30_000);
    const digest = fake.topLevelMessages('#oncall')[0]!.text ?? '';
    expect(digest).toContain('Shift handoff (primary)');
    expect(digest).toContain('Maria Jansen on call');
    // Every open incident of the prefix (the first test's too), and not the resolved one.
    expect(digest).toContain(a.incidentId);
    expect(digest).toContain('acknowledged by Tom de Vries');
    expect(digest).toContain(b.incidentId);
    expect(digest).not.toContain(c.incidentId);
    const mail = sink.messages.find((m) => m.subject?.startsWith('Shift handoff'))!;
    expect(mail.to).toEqual([MARIA]);
    expect(mail.text).toContain(a.incidentId);
    expect(mail.text).not.toContain(c.incidentId);

    // Once across replicas: the job id is the schedule and the instant, so both relays added one job.
    const queue = new Queue(HANDOFF_QUEUE, { connection: { url: REDIS_URL }, prefix: queuePrefix(prefix) });
    try {
      await pollUntil(
        async () => (await queue.getJob(handoffJobId('primary', handoffAt)))?.finishedOn !== undefined,
        30_000,
        () => 'the handoff job to finish',
      );
      // One job per schedule and instant (secondary takes part too: its member has an address), and each
      // run scheduled its schedule's next handoff.
      const ids = async (states: ('completed' | 'delayed')[]) =>
        (await queue.getJobs(states)).map((j) => j.id).sort();
      await pollUntil(
        async () => (await ids(['delayed'])).length === 2 && (await ids(['completed'])).length === 2,
        30_000,
        () => 'both handoff jobs to finish and schedule the next',
      );
      expect(await ids(['completed'])).toEqual([
        handoffJobId('primary', handoffAt),
        handoffJobId('secondary', handoffAt),
      ]);
      expect(await ids(['delayed'])).toEqual([
        handoffJobId('primary', handoffAt + HOUR),
        handoffJobId('secondary', handoffAt + HOUR),
      ]);
    } finally {
      await queue.close();
    }
    expect(fake.topLevelMessages('#oncall')).toHaveLength(1);
    expect(sink.messages.filter((m) => m.subject?.startsWith('Shift handoff'))).toHaveLength(1);
  }, 60_000);
});
