/**
 * Issue 6, deliverable 4: two real Alertmanagers (the Debian binary) → the relay → fake Slack + real SMTP.
 *
 * Alerts are pushed to both replicas through Alertmanager's API, re-sent periodically as Prometheus does.
 * For a clustered pair (gossip dedupes the notifications) and for an unclustered, i.e. partitioned, pair
 * (every notification arrives twice, with different externalURLs), per incident there must be exactly one
 * Slack message and one email thread; reminders at the policy's (shortened) cadence while firing; the
 * message updated in place and a resolved reply + email on resolve; and nothing at all after that.
 *
 * Needs the `alertmanager` binary (ALERTMANAGER_BIN overrides where): fails with what to install, or is
 * skipped with SKIP_E2E=1. E2E_EVIDENCE=1 prints what was sent (Slack calls, mails, relay log) on success too.
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { createLogger } from '../../src/observability/logger.js';
import { testConfig } from '../support/config.js';
import { type FakeSlack, type FakeSlackMessage, startFakeSlack } from '../support/fake-slack.js';
import { routingPolicy } from '../support/policy.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { type ReceivedMail, type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';
import {
  type AlertmanagerPair,
  type AlertSpec,
  alertmanager,
  alertmanagerStatus,
  freePort,
  PrometheusLikeSender,
  relayAlertmanagerConfig,
  startAlertmanagerPair,
  waitUntil,
  webhookNotificationsSent,
} from './support.js';

const TOKEN = 'e2e-webhook-token-0123456789';
const ONCALL = 'oncall@coldchain.example';
const CRITICAL_CHANNEL = 'C0CRIT';
/** The relay's critical reminder cadence in this test (the policy below). */
const REPEAT_MS = 3000;

// The embedded default routes with a short critical repeat, so reminders happen within the test.
const POLICY = routingPolicy({
  critical: { slack: '#alerts-critical', email: true, repeat: '3s' },
  warning: { slack: '#alerts-warning' },
  info: { slack: '#alerts-info' },
  delivery: { slack_pace: 0.1, stale_after: 60, backoff: 0.2, max_backoff: 1, shutdown_grace: 2 },
});

// Alertmanager's repeat_interval is the relay's heartbeat (deploy/monitoring keeps it short); 4s here.
const AM_ROUTE = {
  groupBy: ['alertname', 'vehicle_id'],
  groupWait: '1s',
  groupInterval: '2s',
  repeatInterval: '4s',
};

const VEHICLES = [
  { vehicle: 'TRK-0042', shipment: 'SHP-0042', value: '11.4' },
  { vehicle: 'TRK-0077', shipment: 'SHP-0077', value: '9.8' },
] as const;

function reeferAlerts(): AlertSpec[] {
  // Active since the rule's `for: 2m` began, as Prometheus sends it; far from any escalation budget.
  const startsAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 120_000);
  return VEHICLES.map(({ vehicle, shipment, value }) => ({
    labels: {
      alertname: 'ReeferTemperatureExcursion',
      severity: 'critical',
      team: 'dispatch',
      vehicle_id: vehicle,
      shipment_id: shipment,
      zone: 'cargo-1',
      excursion: 'above_max',
    },
    annotations: {
      summary: `Temperature excursion on ${vehicle} zone cargo-1`,
      description: `Zone cargo-1 of ${vehicle} (shipment ${shipment}) reads ${value} °C, above the range allowed for its cargo for 2 minutes.`,
      value,
      runbook_url: 'https://runbooks.coldchain.example/reefer-temperature-excursion',
    },
    startsAt,
    generatorURL: 'http://prometheus.e2e:9090/graph?g0.expr=reefer_temperature_celsius',
  }));
}

// Everything started by a scenario, stopped in reverse order (in the test's finally and, as a backstop, afterAll).
const cleanups: (() => Promise<unknown>)[] = [];
async function cleanUp(): Promise<void> {
  while (cleanups.length) {
    const step = cleanups.pop()!;
    await step().catch((error: Error) => console.error(`e2e cleanup: ${error.message}`));
  }
}
afterAll(cleanUp, 30_000);

// --- What the relay sent, per incident.

const isReminder = (m: FakeSlackMessage) => /Reminder \d+: still firing/.test(m.text ?? '');
const isResolvedReply = (m: FakeSlackMessage) => /Resolved after/.test(m.text ?? '');
const firstLine = (mail: ReceivedMail) => (mail.text ?? '').trim().split('\n')[0] ?? '';
const incidentOfMail = (mail: ReceivedMail) => String(mail.headers.get('x-relay-incident') ?? '');
const incidentOfRoot = (m: FakeSlackMessage) =>
  /incident `([\w-]+)`/.exec(JSON.stringify(m.attachments ?? m.blocks ?? []))?.[1];

interface IncidentView {
  vehicle: string;
  roots: FakeSlackMessage[];
  root: FakeSlackMessage | undefined;
  incidentId: string | undefined;
  replies: FakeSlackMessage[];
  reminders: FakeSlackMessage[];
  resolvedReplies: FakeSlackMessage[];
  mails: ReceivedMail[];
  reminderMails: ReceivedMail[];
  resolvedMails: ReceivedMail[];
}

function incidentView(fake: FakeSlack, sink: SmtpSink, vehicle: string): IncidentView {
  const roots = fake.topLevelMessages(CRITICAL_CHANNEL).filter((m) => (m.text ?? '').includes(vehicle));
  const root = roots[0];
  const incidentId = root ? incidentOfRoot(root) : undefined;
  const replies = root ? fake.replies(root.ts) : [];
  const mails = incidentId ? sink.messages.filter((m) => incidentOfMail(m) === incidentId) : [];
  return {
    vehicle,
    roots,
    root,
    incidentId,
    replies,
    reminders: replies.filter(isReminder),
    resolvedReplies: replies.filter(isResolvedReply),
    mails,
    reminderMails: mails.filter((m) => /^Reminder \d+$/.test(firstLine(m))),
    resolvedMails: mails.filter((m) => firstLine(m) === 'Resolved'),
  };
}

// --- Evidence for failure messages: Slack calls, mails, relay log lines, Alertmanager logs.

function evidence(
  t0: number,
  fake: FakeSlack,
  sink: SmtpSink,
  relayLog: string[],
  pair?: AlertmanagerPair,
): string {
  const rel = (at: number) => `+${((at - t0) / 1000).toFixed(1)}s`;
  const calls = fake.calls.map((c) => {
    const b = c.body;
    const text = String(b.text ?? '').slice(0, 90);
    const outcome = c.response.body?.ok
      ? `ok ts=${String(c.response.body.ts ?? '')}`
      : `ERROR ${JSON.stringify(c.response.body)}`;
    return `  ${rel(c.at)} ${c.method} channel=${String(b.channel ?? '')} ts=${String(b.ts ?? '')} thread_ts=${String(b.thread_ts ?? '')} → ${outcome} | ${text}`;
  });
  const mails = sink.messages.map(
    (m) =>
      `  ${rel(m.receivedAt)} to=${m.to.join(',')} incident=${incidentOfMail(m)} id=${m.messageId} in-reply-to=${m.inReplyTo ?? '-'} refs=${m.references.length} subject="${m.subject}" | ${firstLine(m)}`,
  );
  const logs = relayLog.map((line) => {
    try {
      const {
        level,
        time,
        msg,
        pid: _p,
        hostname: _h,
        service: _s,
        ...rest
      } = JSON.parse(line) as Record<string, unknown>;
      return `  ${rel(Number(time))} [${String(level)}] ${String(msg)} ${JSON.stringify(rest)}`;
    } catch {
      return `  ${line}`;
    }
  });
  const amTail = pair
    ? pair.replicas
        .map((r) => {
          const lines = r
            .log()
            .split('\n')
            .filter((l) => /webhook|Notify|notify|level=(warn|error)|cluster|gossip/i.test(l));
          return `--- ${r.name} ${r.url} (relevant lines, last 25) ---\n${lines.slice(-25).join('\n')}`;
        })
        .join('\n')
    : '';
  return [
    `Slack calls (${fake.calls.length}):`,
    ...calls,
    `Emails (${sink.messages.length}, rejected ${sink.rejected.length}):`,
    ...mails,
    `Relay log (${relayLog.length} lines):`,
    ...logs,
    amTail,
  ].join('\n');
}

async function runScenario(clustered: boolean, onTestFailed: (fn: () => void) => void): Promise<void> {
  // Resolved first: a missing binary fails here with what to install.
  const binary = alertmanager.path();
  const t0 = Date.now();
  const name = clustered ? 'clustered' : 'partitioned';
  const prefix = uniquePrefix(`e2e-${name}`);
  cleanups.push(() => rm(join(tmpdir(), `${prefix}-policy.yaml`), { force: true }));
  cleanups.push(() => deletePrefix(prefix));

  const fake = await startFakeSlack();
  cleanups.push(() => fake.close());
  const sink = await startSmtpSink();
  cleanups.push(() => sink.close());

  // Alertmanager's ports first: the relay checks with both replicas before each reminder (ALERTMANAGER_URL,
  // a comma-separated list, as deploy/monitoring sets it), and Alertmanager needs the relay's URL.
  const webPorts: [number, number] = [await freePort(), await freePort()];
  const relayLog: string[] = [];
  const relay: RunningRelay = await startRelay(
    testConfig(
      prefix,
      {
        SLACK_BOT_TOKEN: 'xoxb-test-token',
        SLACK_API_URL: fake.url,
        SMTP_URL: sink.url,
        RELAY_ONCALL_EMAIL: ONCALL,
        RELAY_WEBHOOK_TOKEN: TOKEN,
        ALERTMANAGER_URL: webPorts.map((p) => `http://127.0.0.1:${p}`).join(','),
      },
      POLICY,
    ),
    { logger: createLogger('info', { write: (line: string) => void relayLog.push(line.trimEnd()) }) },
  );
  cleanups.push(() => relay.stop());

  const pair = await startAlertmanagerPair({
    binary,
    webPorts,
    clustered,
    config: relayAlertmanagerConfig({ relayUrl: relay.url, token: TOKEN, ...AM_ROUTE }),
  });
  cleanups.push(() => pair.stop());
  onTestFailed(() =>
    console.error(`\n===== e2e ${name}: evidence =====\n${evidence(t0, fake, sink, relayLog, pair)}`),
  );
  // Assertion messages stay short; the evidence (Slack calls, mails, relay log, Alertmanager log) is printed on failure.
  const why = (what: string) => `${name}: ${what}`;

  // The pair is what the scenario says it is.
  for (const url of pair.urls) {
    const { cluster } = await alertmanagerStatus(url);
    if (clustered) expect(cluster.peers?.length, `${url} cluster peers`).toBe(2);
    else expect(cluster.status, `${url} cluster status`).toBe('disabled');
  }

  const sender = new PrometheusLikeSender(pair.urls, reeferAlerts(), 1000);
  cleanups.push(() => sender.stop());
  await sender.start();

  // 1. Firing: one root message per incident in #alerts-critical and one first email.
  await waitUntil(
    'a root Slack message and a first email per incident',
    () =>
      VEHICLES.every(({ vehicle }) => {
        const v = incidentView(fake, sink, vehicle);
        return v.root !== undefined && v.mails.length >= 1;
      }),
    10_000,
  ).catch((error: Error) => {
    throw new Error(why(error.message));
  });

  // 2. Still firing: reminders at the 3s cadence. Waiting for two lets the spacing be checked.
  await waitUntil(
    'two Slack reminders and two reminder emails per incident',
    () =>
      VEHICLES.every(({ vehicle }) => {
        const v = incidentView(fake, sink, vehicle);
        return v.reminders.length >= 2 && v.reminderMails.length >= 2;
      }),
    4 * REPEAT_MS,
  ).catch((error: Error) => {
    throw new Error(why(error.message));
  });

  // 3. Resolve, as Prometheus does: the same alerts with endsAt = now, to both replicas.
  await sender.resolve();
  await waitUntil(
    'the root updated to resolved, a resolved reply and a resolved email per incident',
    () =>
      VEHICLES.every(({ vehicle }) => {
        const v = incidentView(fake, sink, vehicle);
        return (
          v.resolvedReplies.length >= 1 && v.resolvedMails.length >= 1 && /RESOLVED/.test(v.root?.text ?? '')
        );
      }),
    10_000,
  ).catch((error: Error) => {
    throw new Error(why(error.message));
  });

  // 4. Nothing after resolve: wait two reminder intervals (and two Alertmanager group intervals).
  const callsAtResolve = fake.calls.length;
  const mailsAtResolve = sink.messages.length;
  await sleep(2 * REPEAT_MS + 500);
  await sender.stop();

  // --- Assertions over everything recorded.
  expect(sender.errors, why('pushes to Alertmanager failed')).toEqual([]);
  for (const call of fake.calls) {
    expect(
      call.response.body?.ok,
      why(`Slack ${call.method} failed: ${JSON.stringify(call.response.body)}`),
    ).toBe(true);
  }
  expect(sink.rejected, why('emails were rejected')).toEqual([]);
  // No top-level message anywhere but #alerts-critical, and exactly one there per incident.
  expect(fake.topLevelMessages().length, why('top-level Slack messages in all channels')).toBe(
    VEHICLES.length,
  );
  expect(fake.topLevelMessages(CRITICAL_CHANNEL).length, why('top-level messages in #alerts-critical')).toBe(
    VEHICLES.length,
  );

  // chat.update needs the channel id that chat.postMessage returned, never '#alerts-critical'.
  for (const update of fake.callsTo('chat.update'))
    expect(update.body.channel, why('chat.update channel')).toBe(CRITICAL_CHANNEL);

  const incidentIds = new Set<string>();
  for (const { vehicle } of VEHICLES) {
    const v = incidentView(fake, sink, vehicle);
    const root = v.root!;
    expect(v.roots.length, why(`${vehicle}: exactly one top-level Slack message`)).toBe(1);
    expect(v.incidentId, why(`${vehicle}: the root names its incident`)).toBeDefined();
    incidentIds.add(v.incidentId!);

    // Updated in place on resolve: chat.update with the channel id, now saying resolved (green bar).
    expect(root.updates, why(`${vehicle}: the root message was updated on resolve`)).toBeGreaterThan(0);
    expect(root.text, why(`${vehicle}: root text says resolved`)).toMatch(/RESOLVED/);
    const attachments = JSON.stringify(root.attachments);
    expect(attachments, why(`${vehicle}: root blocks say resolved`)).toMatch(/RESOLVED \(was CRITICAL\)/);
    expect(attachments, why(`${vehicle}: root blocks say resolved`)).toMatch(/Resolved after/);
    expect(
      (root.attachments?.[0] as { color?: string } | undefined)?.color,
      why(`${vehicle}: resolved colour`),
    ).toBe('#2EB67D');

    // Thread: reminders while firing, then exactly one resolved reply, last.
    expect(v.resolvedReplies.length, why(`${vehicle}: one resolved reply`)).toBe(1);
    expect(v.replies.at(-1), why(`${vehicle}: nothing in the thread after the resolved reply`)).toBe(
      v.resolvedReplies[0],
    );
    // Nothing after resolve, counted from the moment the root was first rendered resolved (not from when this
    // test noticed): from then on the only Slack call about this incident is the resolve's own thread reply.
    // (The episode keeps its first externalURL, so the replicas' copies cannot flip the root's Alertmanager link
    // and cause a second update of the resolved message.)
    const aboutRoot = fake.calls.filter(
      (c) =>
        c.response.body?.ok &&
        ((c.method === 'chat.update' && c.body.ts === root.ts) ||
          (c.method === 'chat.postMessage' && c.body.thread_ts === root.ts)),
    );
    const resolvedRender = aboutRoot.findIndex(
      (c) => c.method === 'chat.update' && /RESOLVED/.test(String(c.body.text)),
    );
    expect(resolvedRender, why(`${vehicle}: the root was rendered resolved`)).toBeGreaterThanOrEqual(0);
    expect(
      aboutRoot.slice(resolvedRender + 1).map((c) => `${c.method} ${String(c.body.text ?? '').slice(0, 70)}`),
      why(`${vehicle}: Slack calls after the root was rendered resolved`),
    ).toEqual([expect.stringMatching(/^chat\.postMessage :white_check_mark: Resolved after/)]);
    expect(v.reminders.length, why(`${vehicle}: reminders while firing`)).toBeGreaterThanOrEqual(1);
    // The cadence: no more than one per interval between the root and the resolve (+1 for timing slack).
    const firingMs = (Number(v.resolvedReplies[0]!.ts) - Number(root.ts)) * 1000;
    expect(
      v.reminders.length,
      why(`${vehicle}: at most one reminder per ${REPEAT_MS} ms`),
    ).toBeLessThanOrEqual(Math.floor(firingMs / REPEAT_MS) + 1);
    // Spacing from the root and between reminders: about the interval (the clock starts when the job that
    // posted began, a little before Slack stamped the message), never a burst.
    const reminderTimes = [root, ...v.reminders].map((m) => Number(m.ts) * 1000);
    for (let i = 1; i < reminderTimes.length; i++) {
      expect(
        reminderTimes[i]! - reminderTimes[i - 1]!,
        why(`${vehicle}: reminder ${i} came too early`),
      ).toBeGreaterThanOrEqual((REPEAT_MS * 2) / 3);
    }
    expect(v.replies.length, why(`${vehicle}: thread holds only reminders and the resolve`)).toBe(
      v.reminders.length + 1,
    );

    // Email: one thread. One first mail (no In-Reply-To), every later one replies to its predecessor with
    // the whole chain in References, keeping the first subject with "Re: ".
    const mails = [...v.mails].sort((a, b) => a.receivedAt - b.receivedAt);
    const firsts = mails.filter((m) => !m.inReplyTo);
    expect(firsts.length, why(`${vehicle}: exactly one first email`)).toBe(1);
    expect(mails[0], why(`${vehicle}: the first email came first`)).toBe(firsts[0]);
    expect(firstLine(mails[0]!), why(`${vehicle}: first email is the new incident`)).toBe('New incident');
    expect(mails[0]!.subject).toBe(`[CRITICAL] ReeferTemperatureExcursion · ${vehicle}`);
    for (const mail of mails) expect(mail.to, why(`${vehicle}: recipients`)).toEqual([ONCALL]);
    for (let i = 1; i < mails.length; i++) {
      const mail = mails[i]!;
      expect(mail.inReplyTo, why(`${vehicle}: email ${i} In-Reply-To`)).toBe(mails[i - 1]!.messageId);
      expect(mail.references, why(`${vehicle}: email ${i} References`)).toEqual(
        mails.slice(0, i).map((m) => m.messageId),
      );
      expect(mail.subject, why(`${vehicle}: email ${i} subject`)).toBe(`Re: ${mails[0]!.subject}`);
    }
    expect(new Set(mails.map((m) => m.messageId)).size, why(`${vehicle}: distinct Message-IDs`)).toBe(
      mails.length,
    );
    expect(v.reminderMails.length, why(`${vehicle}: reminder emails while firing`)).toBeGreaterThanOrEqual(1);
    expect(v.resolvedMails.length, why(`${vehicle}: one resolved email`)).toBe(1);
    expect(mails.at(-1), why(`${vehicle}: nothing mailed after the resolved email`)).toBe(v.resolvedMails[0]);
    expect(mails.length, why(`${vehicle}: the thread holds the first mail, reminders and the resolve`)).toBe(
      1 + v.reminderMails.length + 1,
    );
  }
  expect(incidentIds.size, why('one incident per vehicle')).toBe(VEHICLES.length);
  // Every email belongs to one of the two incidents.
  expect(
    sink.messages.every((m) => incidentIds.has(incidentOfMail(m))),
    why('emails of unknown incidents'),
  ).toBe(true);

  // Nothing at all after the resolve was delivered: no Slack call, no email.
  expect(
    fake.calls.slice(callsAtResolve).map((c) => c.method),
    why('Slack calls after resolve'),
  ).toEqual([]);
  expect(sink.messages.length, why('emails after resolve')).toBe(mailsAtResolve);

  // Nothing failed inside the relay either (retries, dead letters, worker errors).
  const problems = relayLog.filter((line) => (JSON.parse(line) as { level: number }).level >= 40);
  expect(problems, why('relay warnings/errors')).toEqual([]);

  // The scenario really exercised what it claims.
  const sent = await Promise.all(pair.urls.map(webhookNotificationsSent));
  if (clustered) {
    // Gossip: the pair as a whole notified, and the relay saw repeats (the heartbeat) as duplicates.
    expect(sent[0]! + sent[1]!, why(`webhooks sent by the clustered replicas: ${sent}`)).toBeGreaterThan(0);
  } else {
    // Partitioned: each replica notified on its own, so the relay received every notification twice.
    for (const [i, n] of sent.entries())
      expect(n, why(`webhooks sent by replica ${i}: ${sent}`)).toBeGreaterThan(0);
  }
  const metrics = await (await fetch(`${relay.url}/metrics`)).text();
  const deduplicated = Number(/^relay_webhooks_deduplicated_total (\S+)$/m.exec(metrics)?.[1] ?? 0);
  expect(deduplicated, why('the relay deduplicated Alertmanager copies')).toBeGreaterThan(0);
  if (process.env.E2E_EVIDENCE === '1') console.info(evidence(t0, fake, sink, relayLog, pair));
  console.info(
    `e2e ${name}: ${((Date.now() - t0) / 1000).toFixed(1)}s; webhooks sent per replica ${sent.join('/')}, relay duplicates ${deduplicated}; ` +
      `reminders per incident (slack/email) ${VEHICLES.map(({ vehicle }) => {
        const v = incidentView(fake, sink, vehicle);
        return `${vehicle} ${v.reminders.length}/${v.reminderMails.length}`;
      }).join(', ')}`,
  );
}

describe.skipIf(alertmanager.skip)('an Alertmanager pair → the relay → Slack and email', () => {
  it('clustered pair: one Slack message and one email thread per incident, reminders, resolve, then silence', async ({
    onTestFailed,
  }) => {
    try {
      await runScenario(true, onTestFailed);
    } finally {
      await cleanUp();
    }
  }, 40_000);

  it('partitioned (unclustered) pair: the same, although every notification arrives twice', async ({
    onTestFailed,
  }) => {
    try {
      await runScenario(false, onTestFailed);
    } finally {
      await cleanUp();
    }
  }, 40_000);
});
