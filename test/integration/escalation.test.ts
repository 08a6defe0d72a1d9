/**
 * Cargo-aware escalation end to end: a warning excursion on chilled pharma goes to #alerts-warning; when
 * its excursion budget crosses 50% — with no new webhook — the relay re-checks at that moment, turns it
 * critical, adds the critical route and the QA lists, and says which rule did it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { groupIdOf } from '../../src/domain/model.js';
import { testConfig } from '../support/config.js';
import { deliveryEnv, startHarness } from '../support/delivery.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { postJson } from '../support/http.js';
import { routingPolicy } from '../support/policy.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('escalation');
let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  relay = await startRelay(
    testConfig(
      prefix,
      deliveryEnv(fake, sink),
      routingPolicy({
        critical: { slack: '#alerts-critical', email: true, repeat: '5m' },
        warning: { slack: '#alerts-warning' },
        delivery: { slack_pace: 0.05, stale_after: '1h' },
      }),
    ),
  );
});

afterAll(async () => {
  await relay?.stop();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

describe('escalation', () => {
  it('re-checks when the pharma excursion budget crosses 50% and escalates without a new webhook', async () => {
    // Chilled pharma allows 30 minutes out of range: 50% is 15 minutes after the excursion began.
    const crossesIn = 3000;
    const startsAt = new Date(Date.now() - 15 * 60_000 + crossesIn).toISOString().replace(/\.\d+Z$/, 'Z');
    const payload = inGroup(fixture('firing-reefer-excursion'), 'escalate');
    payload.commonLabels = {
      ...payload.commonLabels,
      severity: 'warning',
      vehicle_id: 'TRK-0042',
      shipment_id: 'SHP-0042',
    };
    payload.alerts = payload.alerts.map((a) => ({
      ...a,
      startsAt,
      labels: { ...a.labels, severity: 'warning', vehicle_id: 'TRK-0042', shipment_id: 'SHP-0042' },
      annotations: { ...a.annotations, value: '9.4' },
    }));
    const res = await postJson(`${relay.url}/webhook/alertmanager`, payload);
    expect(res.status).toBe(200);
    const posted = Date.now();

    await fake.waitFor(() => fake.topLevelMessages('#alerts-warning').length === 1, 10_000);
    const warning = fake.topLevelMessages('#alerts-warning')[0]!;
    expect(JSON.stringify(warning.attachments)).not.toContain('Escalated');
    expect(fake.topLevelMessages('#alerts-critical')).toHaveLength(0);

    await fake.waitFor(() => fake.topLevelMessages('#alerts-critical').length === 1, 15_000);
    expect(Date.now() - posted).toBeGreaterThanOrEqual(crossesIn - 1500);
    const critical = JSON.stringify(fake.topLevelMessages('#alerts-critical')[0]!.attachments);
    expect(critical).toContain('Escalated');
    expect(critical).toContain('pharma-excursion-half-budget');
    // The original message is updated in place to say it escalated, too.
    await fake.waitFor(
      () =>
        JSON.stringify(fake.messages.get(warning.ts)?.attachments).includes('pharma-excursion-half-budget'),
      10_000,
    );

    await sink.waitFor(
      () =>
        ['oncall@coldchain.example', 'qa@coldchain.example'].every((to) =>
          sink.messages.some((m) => m.to.includes(to)),
        ),
      10_000,
    );
    const qa = sink.messages.find((m) => m.to.includes('qa@coldchain.example'))!;
    expect(qa.subject).toMatch(/^\[CRITICAL\] ReeferTemperatureExcursion/);
    expect(qa.text).toContain('pharma-excursion-half-budget');

    // Not silent (issue 14): the original thread says it, and the timeline dates it at the crossing.
    await fake.waitFor(() => fake.replies(warning.ts).some((m) => m.text?.includes('Escalated:')), 10_000);
    const reply = fake.replies(warning.ts).find((m) => m.text?.includes('Escalated:'))!.text!;
    expect(reply).toMatch(/Escalated: .*has used \d+% of its 30 min budget/);
    expect(reply).toContain('qa@coldchain.example');
    expect(reply).toContain('notified');
    const crossedAt = Date.parse(startsAt) + 15 * 60_000;
    const { incidentId } = res.json() as { incidentId: string };
    const flags = await relay.deliveries.loadFlags(groupIdOf(payload.receiver, payload.groupKey), incidentId);
    expect(flags.escalation?.at).toBe(crossedAt);
    const incident = (await (await fetch(`${relay.url}/api/incidents/${incidentId}`)).json()) as {
      timeline: { at: string; event: string }[];
    };
    expect(incident.timeline.find((e) => e.event === 'escalated')?.at).toBe(
      new Date(crossedAt).toISOString(),
    );
  }, 30_000);
});
