/**
 * Acknowledge from Slack and from the email link, signature checks on Slack interactions, and the
 * incident API — against a real relay, the real Redis, the fake Slack server and a real SMTP server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { signAckToken } from '../../src/channels/email/ack-link.js';
import { signSlackRequest } from '../../src/channels/slack/signatures.js';
import { testConfig } from '../support/config.js';
import { deliveryEnv, startHarness } from '../support/delivery.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { postJson, rawRequest } from '../support/http.js';
import { routingPolicy } from '../support/policy.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('ack');
const SIGNING = 'slack-signing-secret-for-tests';
const ACK_SECRET = 'ack-secret-for-tests-0123456789';
const TOKEN = 'webhook-token-for-ack-tests';
const POLICY = routingPolicy({
  critical: { slack: '#alerts-critical', email: true, repeat: '1s' },
  // Nothing here hangs: a short timeout would only fire on a loaded machine and resend (duplicate) mails.
  delivery: { slack_pace: 0.05, stale_after: 60, slack_timeout: 30, smtp_timeout: 30 },
});

let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  relay = await startRelay(
    testConfig(
      prefix,
      {
        ...deliveryEnv(fake, sink),
        SLACK_SIGNING_SECRET: SIGNING,
        RELAY_ACK_SECRET: ACK_SECRET,
        RELAY_WEBHOOK_TOKEN: TOKEN,
        PUBLIC_URL: 'http://relay.test',
      },
      POLICY,
    ),
  );
});

afterAll(async () => {
  await relay?.stop();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

const auth = { authorization: `Bearer ${TOKEN}` };

async function fire(tag: string): Promise<{ incidentId: string; groupId: string }> {
  const res = await postJson(
    `${relay.url}/webhook/alertmanager`,
    inGroup(fixture('firing-reefer-excursion'), tag),
    auth,
  );
  expect(res.status).toBe(200);
  const { incidentId } = res.json() as { incidentId: string };
  // The incident API finds an incident by id once the write-ahead pump has indexed it (within its lag).
  await pollUntil(
    async () => (await fetch(`${relay.url}/api/incidents/${incidentId}`, { headers: auth })).status === 200,
    10_000,
    () => `GET /api/incidents/${incidentId} did not answer 200`,
  );
  return { incidentId, groupId: '' };
}

function rootOf(incidentId: string) {
  return fake
    .topLevelMessages('#alerts-critical')
    .find((m) => JSON.stringify(m.attachments).includes(incidentId));
}

function interaction(actionId: string, value: string, user = 'maria', actionTs = `${Date.now() / 1000}`) {
  return `payload=${encodeURIComponent(
    JSON.stringify({
      type: 'block_actions',
      user: { id: 'U0MARIA', username: user },
      actions: [{ action_id: actionId, value, action_ts: actionTs }],
      response_url: `${new URL(fake.url).origin}/response/${actionTs}`,
    }),
  )}`;
}

function signed(body: string, timestamp = Math.floor(Date.now() / 1000)) {
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signSlackRequest(SIGNING, timestamp, body),
  };
}

async function buttonValue(incidentId: string): Promise<string> {
  await fake.waitFor(() => rootOf(incidentId) !== undefined, 10_000);
  const blocks = JSON.stringify(rootOf(incidentId)!.attachments);
  const value = /"action_id":"relay_ack"[\s\S]*?"value":"([0-9a-f]{16}:[0-9a-f]{16})"/.exec(blocks)?.[1];
  expect(value, 'the firing message carries an Acknowledge button').toBeDefined();
  return value!;
}

describe('Slack interactions', () => {
  it('refuses a bad signature, a stale timestamp and missing headers with 401, changing nothing', async () => {
    const { incidentId } = await fire('refuse');
    const value = await buttonValue(incidentId);
    const body = interaction('relay_ack', value);
    const attempts: Record<string, string>[] = [
      { ...signed(body), 'x-slack-signature': 'v0=deadbeef' },
      signed(body, Math.floor(Date.now() / 1000) - 6 * 60),
      { 'content-type': 'application/x-www-form-urlencoded' },
    ];
    for (const headers of attempts) {
      const res = await rawRequest(`${relay.url}/slack/interactions`, { headers, body });
      expect(res.status).toBe(401);
    }
    const detail = (await (
      await fetch(`${relay.url}/api/incidents/${incidentId}`, { headers: auth })
    ).json()) as { acknowledged: unknown };
    expect(detail.acknowledged).toBeNull();
  });

  it('acknowledges from the button: reminders stop on Slack and email, the message says who, a double click changes nothing', async () => {
    const { incidentId } = await fire('slack-ack');
    const value = await buttonValue(incidentId);
    const root = rootOf(incidentId)!;
    // At a 1 s repeat, reminders flow before the click.
    await fake.waitFor(() => fake.replies(root.ts).some((r) => (r.text ?? '').includes('Reminder')), 10_000);

    const body = interaction('relay_ack', value, 'maria', '1795660000.000001');
    const res = await rawRequest(`${relay.url}/slack/interactions`, { headers: signed(body), body });
    expect(res.status).toBe(200);
    const again = await rawRequest(`${relay.url}/slack/interactions`, { headers: signed(body), body });
    expect(again.status).toBe(200);

    await fake.waitFor(
      () => fake.replies(root.ts).some((r) => (r.text ?? '').includes('Acknowledged by @maria')),
      10_000,
    );
    await fake.waitFor(
      () => JSON.stringify(fake.messages.get(root.ts)?.attachments).includes('Acknowledged by @maria'),
      10_000,
    );
    expect(fake.replies(root.ts).filter((r) => (r.text ?? '').includes('Acknowledged by')).length).toBe(1);
    expect(JSON.stringify(fake.messages.get(root.ts)?.attachments)).not.toContain('"relay_ack"');

    const subject = (m: { subject?: string | undefined }) => m.subject ?? '';
    const mailsFor = () =>
      sink.messages.filter((m) => (m.headers.get('x-relay-incident') as string | undefined) === incidentId);
    const eventOf = (m: { text?: string | undefined }) => (m.text ?? '').split('\n')[0];
    // Every email list of the incident hears it: the on-call list and the QA list that escalation adds (the
    // fixture's pharma shipment is past its excursion budget). Counting once the first list had its mail let
    // the other list's "Acknowledged" arrive during the quiet period below ("expected 6 to be 5" under load).
    const destinations = (await (
      await fetch(`${relay.url}/api/incidents/${incidentId}`, { headers: auth })
    ).json()) as { deliveries: { kind: string; target: string }[] };
    // A delivery's target is its comma-separated address list, the mail's envelope recipients joined.
    const lists = destinations.deliveries.filter((d) => d.kind === 'email').map((d) => d.target);
    expect(lists).toContain('oncall@coldchain.example');
    await sink.waitFor(
      () =>
        lists.every((list) =>
          mailsFor().some((m) => m.to.join(',') === list && eventOf(m) === 'Acknowledged'),
        ),
      20_000,
    );
    expect(mailsFor().find((m) => eventOf(m) === 'Acknowledged')?.text).toContain('Acknowledged by @maria');
    const repliesAfter = fake.replies(root.ts).length;
    const mailsAfter = mailsFor().length;
    await new Promise((r) => setTimeout(r, 3000));
    expect(fake.replies(root.ts).length).toBe(repliesAfter);
    const events = () => mailsFor().map((m) => `${m.to.join(',')}: ${eventOf(m)} ${m.messageId}`);
    expect(mailsFor().length, events().join(' | ')).toBe(mailsAfter);
    expect(mailsFor().every((m) => subject(m).includes('ReeferTemperatureExcursion'))).toBe(true);

    const detail = (await (
      await fetch(`${relay.url}/api/incidents/${incidentId}`, { headers: auth })
    ).json()) as {
      acknowledged: { by: string };
      timeline: { event: string; detail: string }[];
    };
    expect(detail.acknowledged.by).toBe('@maria');
    expect(detail.timeline.find((e) => e.event === 'acknowledged')?.detail).toBe('by @maria (Slack)');
    expect(detail.timeline.map((e) => e.event)).toEqual(
      expect.arrayContaining(['fired', 'notified', 'reminder', 'acknowledged']),
    );
  });

  it('tells the user, ephemerally, when a silence cannot be created, and changes nothing', async () => {
    const { incidentId } = await fire('no-am');
    const value = await buttonValue(incidentId);
    // This relay has no ALERTMANAGER_URL, so it shows no silence button; a forged click still gets a clear answer.
    const body = interaction('relay_silence_3600s', value, 'maria', '1795660000.000777');
    const res = await rawRequest(`${relay.url}/slack/interactions`, { headers: signed(body), body });
    expect(res.status).toBe(200);
    await fake.waitFor(() => fake.calls.some((c) => c.method === '/response/1795660000.000777'), 10_000);
    const answer = fake.calls.find((c) => c.method === '/response/1795660000.000777')!.body;
    expect(answer).toMatchObject({ response_type: 'ephemeral' });
    expect(String(answer.text)).toContain('ALERTMANAGER_URL is not set');
    const detail = (await (
      await fetch(`${relay.url}/api/incidents/${incidentId}`, { headers: auth })
    ).json()) as { silences: unknown[] };
    expect(detail.silences).toEqual([]);
  });
});

describe('email acknowledge link', () => {
  it('shows a confirmation page on GET without acknowledging; POST acknowledges', async () => {
    const { incidentId } = await fire('mail-ack');
    const toOncall = (m: SmtpSink['messages'][number]) =>
      m.headers.get('x-relay-incident') === incidentId && m.to.includes('oncall@coldchain.example');
    await sink.waitFor(() => sink.messages.some(toOncall), 10_000);
    const mail = sink.messages.find(toOncall)!;
    const link = /http:\/\/relay\.test(\/ack\/[\w.-]+)/.exec(mail.text ?? '')?.[1];
    expect(link, 'the email carries an acknowledge link').toBeDefined();
    expect(mail.html).toContain(`http://relay.test${link}`);

    const get = await fetch(`${relay.url}${link}`);
    expect(get.status).toBe(200);
    expect(await get.text()).toContain('<form method="post">');
    const before = (await (
      await fetch(`${relay.url}/api/incidents/${incidentId}`, { headers: auth })
    ).json()) as { acknowledged: unknown };
    expect(before.acknowledged).toBeNull();

    const post = await fetch(`${relay.url}${link}`, { method: 'POST' });
    expect(post.status).toBe(200);
    expect(await post.text()).toContain('Acknowledged by oncall@coldchain.example');
    const after = (await (
      await fetch(`${relay.url}/api/incidents/${incidentId}`, { headers: auth })
    ).json()) as { acknowledged: { by: string } };
    expect(after.acknowledged.by).toBe('oncall@coldchain.example');
  });

  it('refuses forged and expired tokens', async () => {
    const { incidentId } = await fire('mail-forged');
    const detail = (await (
      await fetch(`${relay.url}/api/incidents/${incidentId}`, { headers: auth })
    ).json()) as {
      incident: { groupKey: string };
    };
    expect(detail.incident.groupKey).toContain('mail-forged');
    const claims = {
      groupId: '0123456789abcdef',
      incidentId,
      who: 'x@example.com',
      exp: Math.floor(Date.now() / 1000) + 3600,
    };
    const forged = signAckToken('not-the-secret-0123456789', claims);
    expect((await fetch(`${relay.url}/ack/${forged}`, { method: 'POST' })).status).toBe(403);
    const expired = signAckToken(ACK_SECRET, { ...claims, exp: Math.floor(Date.now() / 1000) - 1 });
    expect((await fetch(`${relay.url}/ack/${expired}`, { method: 'POST' })).status).toBe(410);
    expect((await fetch(`${relay.url}/ack/garbage`)).status).toBe(403);
  });
});

describe('incident API', () => {
  it('requires the webhook token and says what it knows', async () => {
    const { incidentId } = await fire('api');
    expect((await fetch(`${relay.url}/api/incidents/${incidentId}`)).status).toBe(401);
    expect((await fetch(`${relay.url}/api/incidents/ffffffffffffffff`, { headers: auth })).status).toBe(404);
    const detail = (await (
      await fetch(`${relay.url}/api/incidents/${incidentId}`, { headers: auth })
    ).json()) as {
      incident: { status: string; title: string };
      deliveries: { kind: string; target: string }[];
    };
    expect(detail.incident).toMatchObject({
      status: 'firing',
      title: 'ReeferTemperatureExcursion · TRK-0042',
    });
    expect(detail.deliveries.map((d) => [d.kind, d.target])).toEqual(
      expect.arrayContaining([
        ['slack', '#alerts-critical'],
        ['email', 'oncall@coldchain.example'],
      ]),
    );
  });
});
