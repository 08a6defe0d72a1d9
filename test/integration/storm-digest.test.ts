/**
 * Storm digest end to end (issue 14, item 8): real Redis, the BullMQ workers, the fake Slack Web API and the
 * SMTP sink. Twelve critical incidents at once for one channel and one on-call list, with `storm:
 * {threshold: 5}`: five post their own messages, the other seven are folded into one digest (Slack: one
 * message updated in place, their own messages in its thread; email: one digest mail), and resolves update
 * the digest and the incident's own message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { deliveryIdOf, groupIdOf } from '../../src/domain/model.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { testConfig } from '../support/config.js';
import {
  CRITICAL,
  deliveryEnv,
  ONCALL,
  post,
  slackTexts,
  startHarness,
  waitForIdle,
} from '../support/delivery.js';
import type { FakeSlack, FakeSlackMessage } from '../support/fake-slack.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('storm');
let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;
const WAIT = 60_000;
const N = 12;

const POLICY = `routes:
  - name: critical
    matchers: ['severity="critical"']
    slack: ['${CRITICAL}']
    email: [oncall]
    repeat: 1h
    storm: { threshold: 5, window: 30s }
fallback_route: critical
delivery: { backoff: 0.2, max_backoff: 1, attempts: 5, slack_pace: 0.5, stale_after: 600, shutdown_grace: 1, slack_timeout: 30, smtp_timeout: 30 }
`;

function payloadFor(i: number, status: 'firing' | 'resolved', startsAt: string): WebhookPayload {
  const vehicle = `TRK-${2000 + i}`;
  const labels = { alertname: 'ReeferUnitFault', severity: 'critical', vehicle_id: vehicle };
  return {
    version: '4',
    groupKey: `{}:{alertname="ReeferUnitFault", vehicle_id="${vehicle}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'relay',
    groupLabels: { alertname: 'ReeferUnitFault', vehicle_id: vehicle },
    commonLabels: labels,
    commonAnnotations: { summary: `Reefer unit fault on ${vehicle}` },
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status,
        labels,
        annotations: { summary: `Reefer unit fault on ${vehicle}` },
        startsAt,
        endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: (0x2000 + i).toString(16),
      },
    ],
  } as WebhookPayload;
}

const metaOf = (m: FakeSlackMessage) =>
  m.metadata as { event_type?: string; event_payload?: Record<string, string> } | undefined;
const digests = () => [...fake.messages.values()].filter((m) => metaOf(m)?.event_type === 'relay_storm');
const rootOf = (incidentId: string) =>
  [...fake.messages.values()].filter(
    (m) => metaOf(m)?.event_type === 'relay_incident' && metaOf(m)?.event_payload?.incident_id === incidentId,
  );
const stormMails = () => sink.messages.filter((m) => m.headers.get('x-relay-storm') !== undefined);

const startsAt = new Date(Date.now() - 60_000).toISOString();
let ids: string[] = [];

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  relay = await startRelay(testConfig(prefix, deliveryEnv(fake, sink), POLICY));
  // Each mail takes a while: the on-call list's first mails queue like Slack's posts do behind the pace.
  sink.setSlow(300);
  const answers = await Promise.all(
    Array.from({ length: N }, (_, i) => post(relay, payloadFor(i, 'firing', startsAt))),
  );
  ids = answers.map((a) => a.incidentId);
}, WAIT);

afterAll(async () => {
  await relay?.stop();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

describe('twelve new incidents at once with threshold 5', () => {
  it(
    'posts at least five on their own and one digest listing the rest, whose own messages follow in its thread',
    async () => {
      await fake.waitFor(() => ids.every((id) => rootOf(id).length === 1), WAIT);
      const [digest, ...more] = digests();
      expect(more).toHaveLength(0);
      expect(digest?.thread_ts).toBeUndefined();
      const inThread = ids.filter((id) => rootOf(id)[0]?.thread_ts === digest!.ts);
      const onTheirOwn = ids.filter((id) => rootOf(id)[0]?.thread_ts === undefined);
      // "Queued" is counted as it happens: the sixth incident waiting behind the pace opens the storm, and
      // one posted before the others were decided no longer waits, so at least five go out on their own.
      expect(onTheirOwn.length, JSON.stringify({ own: onTheirOwn.length })).toBeGreaterThanOrEqual(5);
      expect(inThread.length).toBeGreaterThanOrEqual(1);
      expect(onTheirOwn.length + inThread.length).toBe(N);
      // The channel itself holds those, the digest and nothing else.
      expect(fake.topLevelMessages(CRITICAL)).toHaveLength(onTheirOwn.length + 1);
      // The digest lists each folded incident with severity, vehicle and state, once it caught up with all.
      await pollUntil(
        () => {
          const text = slackTexts(digests()[0]!).join('\n');
          return inThread.every((id) => text.includes(vehicleOf(id)));
        },
        WAIT,
        () => `the digest to list every folded incident: ${slackTexts(digests()[0]!).join('\n')}`,
      );
      const text = slackTexts(digests()[0]!).join('\n');
      // It also lists the incidents that post their own message but were still waiting when the storm began.
      const listed: string[] = [];
      for (const id of onTheirOwn) if ((await slackLogOf(id)).listed) listed.push(id);
      expect(text).toContain(`${inThread.length + listed.length} new incidents`);
      expect(text).toMatch(/critical\*? · TRK-\d+ · .*firing/);
      for (const id of onTheirOwn) expect(text.includes(vehicleOf(id))).toBe(listed.includes(id));
    },
    WAIT,
  );

  it(
    'accounts every accepted incident: each delivery recorded an outcome',
    async () => {
      await waitForIdle(relay, { timeoutMs: WAIT });
      for (const [i, id] of ids.entries()) {
        const gid = groupIdOf('relay', payloadFor(i, 'firing', startsAt).groupKey);
        const slackLog = await relay.deliveries.loadLog(gid, id, deliveryIdOf('slack', CRITICAL));
        const mailLog = await relay.deliveries.loadLog(gid, id, deliveryIdOf('email', ONCALL));
        expect(slackLog.lastOutcome, `slack ${id}`).toBe('delivered');
        expect(mailLog.lastOutcome, `email ${id}`).toBe('delivered');
      }
      expect(await relay.queue.getJobs(['failed'])).toHaveLength(0);
    },
    WAIT,
  );

  it(
    'sends the on-call list one digest mail instead of a mail per folded incident',
    async () => {
      await waitForIdle(relay, { timeoutMs: WAIT });
      const own = ids.filter((id) => sink.messages.some((m) => m.headers.get('x-relay-incident') === id));
      const folded = ids.filter((id) => !own.includes(id));
      expect(own.length).toBeLessThanOrEqual(5);
      expect(folded.length).toBeGreaterThanOrEqual(N - 5);
      const firsts = stormMails().filter((m) => !m.inReplyTo);
      expect(firsts).toHaveLength(1);
      // Every folded incident is told in the digest's thread (the digest, or an update if it joined late).
      const told = stormMails()
        .map((m) => m.text ?? '')
        .join('\n');
      for (const id of folded) expect(told).toContain(vehicleOf(id));
      expect(stormMails().every((m) => m.to.includes(ONCALL))).toBe(true);
    },
    WAIT,
  );

  it(
    'a resolve updates the digest and the incident’s own message, and is told in the digest’s mail thread',
    async () => {
      const digest = digests()[0]!;
      const inThread = ids.filter((id) => rootOf(id)[0]?.thread_ts === digest.ts);
      // Each destination decides on its own: an incident folded in Slack may have mailed on its own.
      const mailFolded: string[] = [];
      for (const id of ids) if ((await mailLogOf(id)).storm) mailFolded.push(id);
      const slackResolved = inThread.slice(0, 2);
      const mailResolved = mailFolded.slice(0, 2);
      const resolved = [...new Set([...slackResolved, ...mailResolved])];
      const mailsBefore = stormMails().length;
      for (const id of resolved) await post(relay, payloadFor(ids.indexOf(id), 'resolved', startsAt));
      await pollUntil(
        () => {
          const text = slackTexts(digests()[0]!).join('\n');
          return slackResolved.every((id) => new RegExp(`${vehicleOf(id)} · [^\\n]*resolved`).test(text));
        },
        WAIT,
        () => `the digest to show the resolves: ${slackTexts(digests()[0]!).join('\n')}`,
      );
      let resolvedInDigest = 0;
      for (const id of resolved) {
        const log = await slackLogOf(id);
        if (log.storm || log.listed) resolvedInDigest++;
      }
      await pollUntil(
        () => slackTexts(digests()[0]!).join('\n').includes(`${resolvedInDigest} resolved`),
        WAIT,
        () => `the digest to count ${resolvedInDigest} resolved: ${slackTexts(digests()[0]!).join('\n')}`,
      );
      for (const id of slackResolved)
        await pollUntil(
          () => (rootOf(id)[0]?.attachments?.[0] as { color?: string })?.color === '#2EB67D',
          WAIT,
          () => `${id}'s own message to turn green: ${JSON.stringify(rootOf(id)[0]?.attachments)}`,
        );
      const updates = () => stormMails().slice(mailsBefore);
      await pollUntil(
        () =>
          mailResolved.every((id) => updates().some((m) => m.text?.includes(`${vehicleOf(id)} — resolved`))),
        WAIT,
        () =>
          `update mails for ${mailResolved.map(vehicleOf)}: ${updates()
            .map((m) => m.text)
            .join('\n---\n')}`,
      );
      for (const update of updates()) {
        expect(update.inReplyTo).toBeDefined();
        expect(update.subject).toMatch(/^Re: \[STORM\]/);
      }
      // No incident mail of its own for the folded resolves.
      for (const id of mailResolved)
        expect(sink.messages.filter((m) => m.headers.get('x-relay-incident') === id)).toHaveLength(0);
    },
    WAIT * 2,
  );
});

function slackLogOf(incidentId: string) {
  const gid = groupIdOf('relay', payloadFor(ids.indexOf(incidentId), 'firing', startsAt).groupKey);
  return relay.deliveries.loadLog(gid, incidentId, deliveryIdOf('slack', CRITICAL));
}

function mailLogOf(incidentId: string) {
  const gid = groupIdOf('relay', payloadFor(ids.indexOf(incidentId), 'firing', startsAt).groupKey);
  return relay.deliveries.loadLog(gid, incidentId, deliveryIdOf('email', ONCALL));
}

function vehicleOf(incidentId: string): string {
  return `TRK-${2000 + ids.indexOf(incidentId)}`;
}
