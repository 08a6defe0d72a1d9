/**
 * The incident list and what feeds it, over a whole relay (real Redis, BullMQ workers, the fake Slack server,
 * a real SMTP server): firing, resolved, acknowledged (by the email link), silenced (a real silence request
 * to a stand-in Alertmanager) and dead-lettered incidents are listed and filtered as the README says, paged
 * one at a time newest first; the dead letter shows in the list and the timeline; every message sent and the
 * dead letter are logged at info level; messages and the silence link to PUBLIC_URL/incidents/{id}.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TimelineEntry } from '../../src/ack/timeline.js';
import { silenceIncident } from '../../src/alertmanager/silences.js';
import type { RunningRelay } from '../../src/app/relay.js';
import { signAckToken } from '../../src/channels/email/ack-link.js';
import type { IncidentListItem, IncidentListPage } from '../../src/incidents/types.js';
import { createLogger } from '../../src/observability/logger.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import {
  CRITICAL,
  mailsFor,
  minutesAgo,
  post,
  rootsOf,
  slackTexts,
  startDeliveryRelay,
  startedAgo,
  startHarness,
  WARNING,
  waitForIdle,
} from '../support/delivery.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('incident-list');
const PUBLIC_URL = 'http://relay.test';
const ACK_SECRET = 'incident-list-ack-secret-0123456789';
const WAIT = 20_000;

let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;
let alertmanager: Server;
const silenceRequests: { comment: string }[] = [];
const lines: { level: number; msg: string; [key: string]: unknown }[] = [];

/** The six incidents, in the order they fired. */
const ids = { deadLettered: '', warning: '', resolved: '', acknowledged: '', silenced: '', escalated: '' };

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  alertmanager = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST' && req.url === '/api/v2/silences') {
        silenceRequests.push(JSON.parse(body) as { comment: string });
        res.end(JSON.stringify({ silenceID: `s${silenceRequests.length}` }));
      } else res.end('[]');
    });
  });
  await new Promise<void>((resolve) => alertmanager.listen(0, '127.0.0.1', resolve));
  const logSink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  relay = await startDeliveryRelay(
    prefix,
    fake,
    sink,
    // No reminder or staleness within the test: the next reminder stays where the first message put it.
    { criticalRepeat: '1h', delivery: { stale_after: 7200 } },
    { logger: createLogger('info', logSink) },
    { PUBLIC_URL, RELAY_ACK_SECRET: ACK_SECRET },
  );
}, 60_000);

afterAll(async () => {
  await relay?.stop();
  await fake?.close();
  await sink?.close();
  await new Promise((resolve) => alertmanager?.close(resolve));
  await deletePrefix(prefix);
});

async function list(query = ''): Promise<IncidentListPage> {
  const res = await fetch(`${relay.url}/api/incidents${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as IncidentListPage;
}

async function detail(id: string): Promise<{ summary: IncidentListItem; timeline: TimelineEntry[] }> {
  const res = await fetch(`${relay.url}/api/incidents/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { summary: IncidentListItem; timeline: TimelineEntry[] };
}

/** Fires a payload and waits until its deliveries are done, so start times differ and order is known. */
async function fire(payload: WebhookPayload): Promise<string> {
  const { incidentId } = await post(relay, payload);
  await waitForIdle(relay);
  return incidentId;
}

/**
 * The reefer excursion, started a minute ago: its pharma cargo has used little of its budget, so it does not
 * escalate (an escalation re-queues every delivery, which would retry the one meant to stay dead-lettered).
 */
function freshReefer(tag: string): WebhookPayload {
  return startedAgo(inGroup(fixture('firing-reefer-excursion'), tag), minutesAgo(1));
}

/** A fresh reefer excursion on another truck, naming no shipment (the dispatch data knows what it carries). */
function otherTruck(tag: string): WebhookPayload {
  const payload = freshReefer(tag);
  const relabel = (labels: Record<string, string>) => {
    labels.vehicle_id = 'TRK-0077';
    labels.severity = 'warning';
    delete labels.shipment_id;
  };
  for (const alert of payload.alerts) relabel(alert.labels);
  relabel(payload.commonLabels);
  payload.groupLabels.severity = 'warning';
  return payload;
}

describe('GET /api/incidents over a running relay', () => {
  beforeAll(async () => {
    fake.failNext('chat.postMessage', { kind: 'error', error: 'channel_not_found' });
    ids.deadLettered = await fire(freshReefer('list-dead'));
    ids.warning = await fire(otherTruck('list-warning'));
    ids.resolved = await fire(inGroup(fixture('firing-postgresql-down'), 'list-resolved'));
    await fire(inGroup(fixture('resolved-postgresql-down'), 'list-resolved'));
    ids.acknowledged = await fire(freshReefer('list-ack'));
    ids.silenced = await fire(freshReefer('list-silence'));
    // Started long ago: the pharma cargo's budget is spent, so the catalog's rule escalates it.
    ids.escalated = await fire(inGroup(fixture('firing-reefer-excursion'), 'list-escalated'));

    const groupOf = async (id: string) => (await relay.store.findGroupOfIncident(id)) as string;
    const token = signAckToken(ACK_SECRET, {
      groupId: await groupOf(ids.acknowledged),
      incidentId: ids.acknowledged,
      who: 'ana@coldchain.example',
      exp: Math.floor(Date.now() / 1000) + 600,
    });
    expect((await fetch(`${relay.url}/ack/${token}`, { method: 'POST' })).status).toBe(200);
    const silenced = await silenceIncident(
      { groupId: await groupOf(ids.silenced), incidentId: ids.silenced },
      3_600_000,
      'maria',
      {
        alerts: relay.store,
        deliveries: relay.deliveries,
        queue: relay.queue,
        alertmanagerUrls: [`http://127.0.0.1:${(alertmanager.address() as AddressInfo).port}`],
        publicUrl: PUBLIC_URL,
      },
    );
    expect(silenced.status).toBe('silenced');
    await waitForIdle(relay);
    // The dead letter is recorded by the worker's failed handler, after the job left the queue.
    await pollUntil(
      async () =>
        (await detail(ids.deadLettered)).summary.deliveries.some((d) => d.lastOutcome === 'dead_lettered'),
      WAIT,
      () => 'the dead letter recorded in the delivery log',
    );
  }, 120_000);

  it('lists every incident newest first, with status, cold chain, next reminder and last outcomes', async () => {
    const page = await list();
    const order = [
      ids.escalated,
      ids.silenced,
      ids.acknowledged,
      ids.resolved,
      ids.warning,
      ids.deadLettered,
    ];
    expect(page.items.map((i) => i.id)).toEqual(order);
    expect(page.nextCursor).toBeUndefined();
    expect(page.items.map((i) => i.status)).toEqual([
      'firing',
      'silenced',
      'acknowledged',
      'resolved',
      'firing',
      'firing',
    ]);

    const [escalated, silenced, acknowledged, resolved, warning, dead] = page.items as IncidentListItem[];
    expect(escalated!.coldChain.budgetUsedPct).toBeGreaterThanOrEqual(100);
    expect(escalated!.deliveries.map((d) => d.target)).toContain(
      'qa@coldchain.example,qa-pharma@coldchain.example',
    );
    expect(acknowledged!.acknowledgedBy).toBe('ana@coldchain.example');
    expect(acknowledged!.nextReminderAt).toBeUndefined();
    expect(Date.parse(silenced!.silencedUntil!)).toBeGreaterThan(Date.now() + 3_000_000);
    // A silence longer than the repeat moves the next reminder to its end.
    expect(silenced!.nextReminderAt).toBe(silenced!.silencedUntil);
    expect(resolved!.resolvedAt).toBeDefined();
    expect(resolved!.nextReminderAt).toBeUndefined();
    expect(resolved!.coldChain).toEqual({ vehicles: [], shipments: [] });

    // The shipment and its cargo come from the dispatch data the worker looked up, not from the labels.
    expect(warning!.severity).toBe('warning');
    expect(warning!.coldChain).toMatchObject({
      vehicles: ['TRK-0077'],
      shipments: ['SHP-0077'],
      cargoRange: '2–8 °C (chilled pharma)',
    });
    expect(warning!.coldChain.budgetUsedPct).toBeLessThan(50);
    // An hour after the first message (its run started a moment before the send was recorded).
    const hourAfter = (item: IncidentListItem, kind: 'slack' | 'email') => {
      const sent = Date.parse(item.deliveries.find((d) => d.kind === kind)!.lastAt!);
      const due = Date.parse(item.nextReminderAt!);
      return due <= sent + 3_600_000 && due > sent + 3_600_000 - 60_000;
    };
    expect(hourAfter(warning!, 'slack')).toBe(true);

    expect(dead!.deliveries.map((d) => [d.kind, d.target, d.lastOutcome])).toEqual([
      ['slack', CRITICAL, 'dead_lettered'],
      ['email', 'oncall@coldchain.example', 'delivered'],
    ]);
    // Only the email reminds: the Slack delivery never posted.
    expect(hourAfter(dead!, 'email')).toBe(true);
    expect(dead!.escalationStep).toBe(0);
  });

  it('filters by status (firing means open), severity, vehicle and shipment', async () => {
    const idsOf = async (query: string) => (await list(query)).items.map((i) => i.id);
    expect(await idsOf('?status=firing')).toEqual([
      ids.escalated,
      ids.silenced,
      ids.acknowledged,
      ids.warning,
      ids.deadLettered,
    ]);
    expect(await idsOf('?status=acknowledged')).toEqual([ids.acknowledged]);
    expect(await idsOf('?status=silenced')).toEqual([ids.silenced]);
    expect(await idsOf('?status=resolved')).toEqual([ids.resolved]);
    expect(await idsOf('?severity=warning')).toEqual([ids.warning]);
    expect(await idsOf('?vehicle=TRK-0077')).toEqual([ids.warning]);
    expect(await idsOf('?shipment=SHP-0077')).toEqual([ids.warning]);
    expect(await idsOf('?status=firing&vehicle=TRK-0042&limit=2')).toEqual([ids.escalated, ids.silenced]);
    expect(await idsOf('?status=acknowledged&vehicle=TRK-0042')).toEqual([ids.acknowledged]);
    expect(await idsOf('?vehicle=TRK-0042&status=resolved')).toEqual([]);
  });

  it('pages one at a time through all of them, newest first, and ends without a cursor', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await list(`?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual([
      ids.escalated,
      ids.silenced,
      ids.acknowledged,
      ids.resolved,
      ids.warning,
      ids.deadLettered,
    ]);
    expect(cursor).toBeUndefined();
  });

  it('shows the dead letter in the timeline with its reason, and the next reminder', async () => {
    const { timeline } = await detail(ids.deadLettered);
    const dead = timeline.find((e) => e.event === 'dead-lettered');
    expect(dead?.detail).toContain(`slack ${CRITICAL}: `);
    expect(dead?.detail).toContain('channel_not_found');
    expect(timeline.at(-1)?.event).toBe('next reminder');
  });

  it('dates the escalation when its rule became true (the budget threshold crossed), not at the incident start', async () => {
    const res = await fetch(`${relay.url}/api/incidents/${ids.escalated}`);
    const body = (await res.json()) as {
      incident: { startedAt: string };
      escalation: { at?: number } | null;
      timeline: TimelineEntry[];
    };
    const at = body.escalation?.at;
    // The captured alert started long before the relay heard of it, so its budget threshold was crossed
    // before that too: after the alert fired, and not at the relay's start.
    const fired = Date.parse(body.timeline.find((e) => e.event === 'fired')?.at ?? '');
    expect(at).toBeGreaterThan(fired);
    expect(at).not.toBe(Date.parse(body.incident.startedAt));
    expect(body.timeline.find((e) => e.event === 'escalated')?.at).toBe(new Date(at!).toISOString());
  });

  it('logs one info line per message sent and one per dead letter', () => {
    const sent = lines.filter((l) => l.msg === 'message sent');
    for (const line of sent) {
      expect(line.level).toBe(30);
      expect(line).toMatchObject({ deliveryId: expect.any(String), latencyMs: expect.any(Number) });
    }
    const of = (id: string) =>
      sent.filter((l) => l.incidentId === id).map((l) => [l.channel, l.destination, l.action, l.outcome]);
    expect(of(ids.warning)).toEqual([['slack', WARNING, 'post', 'delivered']]);
    expect(of(ids.deadLettered)).toEqual([['email', 'oncall@coldchain.example', 'post', 'delivered']]);
    // Acknowledged: the Slack root is updated in place, and each destination is told in its thread.
    expect(of(ids.acknowledged)).toEqual(
      expect.arrayContaining([
        ['slack', CRITICAL, 'update', 'delivered'],
        ['slack', CRITICAL, 'acknowledged', 'delivered'],
        ['email', 'oncall@coldchain.example', 'acknowledged', 'delivered'],
      ]),
    );
    const resolvedLines = of(ids.resolved);
    expect(resolvedLines).toEqual(expect.arrayContaining([['slack', CRITICAL, 'change', 'delivered']]));
    const dead = lines.filter((l) => l.msg.startsWith('delivery dead-lettered'));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      incidentId: ids.deadLettered,
      channel: 'slack',
      destination: CRITICAL,
      reason: expect.stringContaining('channel_not_found'),
    });
  });

  it('links the Slack footer, the email and the silence comment to PUBLIC_URL/incidents/{id}', () => {
    const page = `${PUBLIC_URL}/incidents/${ids.warning}`;
    const [root] = rootsOf(fake, ids.warning, WARNING);
    expect(slackTexts(root!).join('\n')).toContain(`incident \`${ids.warning}\` · <${page}|details>`);
    const [mail] = mailsFor(sink, ids.acknowledged);
    expect(mail!.text).toContain(`${PUBLIC_URL}/incidents/${ids.acknowledged}`);
    expect(mail!.html).toContain(`href="${PUBLIC_URL}/incidents/${ids.acknowledged}"`);
    expect(silenceRequests.map((r) => r.comment)).toEqual([
      expect.stringContaining(`${PUBLIC_URL}/incidents/${ids.silenced}`),
    ]);
    expect(JSON.stringify(fake.calls)).not.toContain('/api/incidents/');
  });
});
