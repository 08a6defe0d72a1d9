/**
 * What people see, pinned (issue 14): the Slack message as sent (Block Kit JSON, buttons included) and the
 * email (text and HTML) for a reefer incident firing, escalated and resolved, and for a two-vehicle group.
 * Built from the payloads captured from a real Alertmanager 0.25 (test/fixtures/alertmanager-0.25), the
 * shipped catalog and sample fleet, with an injected clock. Every Slack message is also checked against
 * Slack's documented limits (test/support/slack-limits.ts).
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadEmailTemplates, subjectFor } from '../../src/channels/email/render.js';
import type { DeliveryRun } from '../../src/channels/registry.js';
import { slackActionBlocks } from '../../src/channels/slack/actions.js';
import { renderChangeReply, renderSlackPlain, renderSlackRoot } from '../../src/channels/slack/blocks.js';
import { FileContextProvider } from '../../src/context/index.js';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import { createContextStage } from '../../src/deliver/context-stage.js';
import { EMPTY_LOG, type IncidentFlags } from '../../src/domain/delivery-log.js';
import type { IncidentSnapshot } from '../../src/domain/model.js';
import { incidentPageUrl } from '../../src/incidents/links.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { buildView } from '../../src/render/view.js';
import { expectWithinSlackLimits, slackLimitViolations } from '../support/slack-limits.js';

const MINUTE = 60_000;
const templates = loadEmailTemplates();

function realFixture(name: string): WebhookPayload {
  const url = new URL(`../fixtures/alertmanager-0.25/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as WebhookPayload;
}

function stageIn(timeZone: string) {
  return createContextStage({
    provider: FileContextProvider.fromFile(),
    deadlineMs: 1000,
    onUnavailable: () => undefined,
    timeZone,
    alertmanagerUrls: ['http://alertmanager.internal:9093'],
  });
}

interface Scenario {
  snapshot: IncidentSnapshot;
  now: number;
  flags?: IncidentFlags;
  timeZone?: string;
  /** Preview without secrets: buttons and the acknowledge link are shown, marked inactive. */
  preview?: boolean;
}

async function render({ snapshot, now, flags = {}, timeZone = 'UTC', preview = false }: Scenario) {
  const context = await stageIn(timeZone).describe(snapshot, now);
  const view = buildView(snapshot, {
    now,
    flags,
    context: context.view,
    severity: context.severity,
    timeZone,
    incidentUrl: incidentPageUrl('https://relay.coldchain.example', snapshot.incidentId),
  });
  const run = { snapshot, flags, view, now, log: EMPTY_LOG } as unknown as DeliveryRun;
  const buttons = {
    silenceDurations: [3600, 14400],
    inactive: preview ? 'SLACK_SIGNING_SECRET is not set' : undefined,
  };
  const rendered = renderSlackRoot(view, { actions: slackActionBlocks(run, buttons) });
  const slack = { channel: '#alerts-critical', username: 'AlertManager', icon_emoji: ':fire:', ...rendered };
  const subject = subjectFor(view);
  const email = templates.render(
    view,
    { kind: 'post' },
    {
      subject,
      now,
      ...(preview
        ? { ackInactive: 'RELAY_ACK_SECRET is not set' }
        : { ackUrl: 'https://relay.coldchain.example/ack/TOKEN' }),
    },
  );
  return { view, slack, email, subject };
}

async function pin(name: string, scenario: Scenario) {
  const { slack, email, subject, view } = await render(scenario);
  expectWithinSlackLimits(slack);
  await expect(`${JSON.stringify(slack, null, 2)}\n`).toMatchFileSnapshot(`__snapshots__/${name}.slack.json`);
  await expect(`Subject: ${subject}\n\n${email.text}`).toMatchFileSnapshot(`__snapshots__/${name}.email.txt`);
  await expect(email.html).toMatchFileSnapshot(`__snapshots__/${name}.email.html`);
  return { slack, email, view };
}

const reeferFiring = realFixture('firing-reefer-excursion');
const reeferStart = Date.parse(reeferFiring.alerts[0]!.startsAt);
/** Alertmanager's group_wait was 1 s when the payloads were captured. */
const reeferSnapshot = mergeWebhook(undefined, reeferFiring, reeferStart + 1500).snapshot;

describe('reefer excursion on TRK-0042 (SHP-2026-11-0193, chilled pharma, 30 min allowance)', () => {
  it('firing: first action and the driver to call come first; links use the real Alertmanager', async () => {
    const { slack, email, view } = await pin('reefer-firing', {
      snapshot: reeferSnapshot,
      now: reeferStart + 5 * MINUTE,
    });
    const blocks = JSON.stringify(slack.attachments[0]!.blocks.slice(0, 2));
    expect(blocks).toContain('*First action:* Call the driver');
    expect(blocks).toContain('<tel:+31612345042|+31 6 1234 5042>');
    const all = JSON.stringify(slack);
    expect(all).toContain('http://vm:19095/#/silences/new?filter=');
    expect(all).not.toContain('alertmanager.coldchain.example');
    expect(all).toContain('var-vehicle_id=TRK-0042');
    expect(email.text.indexOf('First action:')).toBeLessThan(email.text.indexOf('Cold-chain cargo'));
    expect(email.html).toContain('<a href="tel:+31612345042">+31 6 1234 5042</a>');
    // The plain-text fallback (Slack refused the blocks) keeps them first too.
    expect(renderSlackPlain(view).split('\n').slice(1, 3)).toEqual([
      'First action: Call the driver to check the reefer setpoint, the doors and the unit display; divert to the nearest depot if it does not recover.',
      'Call Ana Silva: <tel:+31612345042|+31 6 1234 5042>',
    ]);
  });

  it('escalated: past half its budget, the rule and who else is told are shown', async () => {
    const { slack } = await pin('reefer-escalated', {
      snapshot: reeferSnapshot,
      now: reeferStart + 19 * MINUTE,
      flags: {
        escalation: {
          rule: 'pharma-excursion-half-budget',
          reason: 'half budget',
          at: reeferStart + 15 * MINUTE,
        },
      },
    });
    const all = JSON.stringify(slack);
    expect(all).toContain('budget used 63% of 30m');
    expect(all).toContain('Also notifying: qa@coldchain.example, qa-pharma@coldchain.example');
  });

  it('resolved: keeps peak, time out of range, budget used, who acknowledged and each step, not a current reading', async () => {
    const resolved = realFixture('resolved-reefer-excursion');
    const end = Date.parse(resolved.alerts[0]!.endsAt);
    const snapshot = mergeWebhook(reeferSnapshot, resolved, end + 1200).snapshot;
    const flags: IncidentFlags = {
      acknowledged: { by: '@ana.silva', at: reeferStart + 20_000, alertKeys: [], truncatedAlerts: 0 },
    };
    const { slack, email, view } = await pin('reefer-resolved', { snapshot, now: end + 5000, flags });
    const all = JSON.stringify(slack);
    expect(all).toContain('out of range for under 1m');
    expect(all).toContain('budget used 1% of 30m');
    expect(all).toContain('_When it fired:_ Reefer temperature 9.4C above 8C limit');
    expect(view.timeline).toBe(
      'Fired 02:53 UTC → notified 2s later → acknowledged by @ana.silva 19s later → resolved 11s later (31s in all)',
    );
    expect(all).not.toContain('First action');
    expect(all).not.toContain('relay_ack');
    expect(email.text).toContain('acknowledged by @ana.silva');
    expect(
      renderChangeReply(
        { incidentResolved: true, joined: [], resolved: [], truncatedBefore: 0, truncatedNow: 0 },
        view,
      ),
    ).toContain('resolved 11s later');
  });

  it('resolved: the steps are told in the order they happened, even when the relay heard of it late', () => {
    const resolved = realFixture('resolved-reefer-excursion');
    const late = mergeWebhook(undefined, reeferFiring, reeferStart + 40 * MINUTE).snapshot;
    const snapshot = mergeWebhook(late, resolved, reeferStart + 41 * MINUTE).snapshot;
    const view = buildView(snapshot, { now: reeferStart + 42 * MINUTE });
    expect(view.timeline).toBe('Fired 02:53 UTC → resolved 31s later → notified 39m later (31s in all)');
  });

  it('resolved with a reading: says what it peaked at, never what it "reads"', async () => {
    const first = realFixture('group-first-replica-a');
    const firing = mergeWebhook(undefined, first, Date.parse(first.alerts[0]!.startsAt) + 1000).snapshot;
    const gone = structuredClone(first);
    gone.status = 'resolved';
    for (const alert of gone.alerts) {
      alert.status = 'resolved';
      alert.endsAt = new Date(Date.parse(alert.startsAt) + 12 * MINUTE).toISOString();
    }
    const snapshot = mergeWebhook(firing, gone, Date.parse(gone.alerts[0]!.endsAt) + 1000).snapshot;
    const { view } = await render({ snapshot, now: snapshot.resolvedAt! + 1000 });
    const facts = view.assets.flatMap((a) => a.facts).join('\n');
    expect(facts).toContain(
      'peaked at 9.4 °C, +1.4 °C above range · out of range for 12m · budget used 40% of 30m',
    );
    expect(facts).not.toMatch(/(^|\n)9\.4 °C/);
  });
});

describe('two vehicles in one group (TRK-0042 and TRK-0077)', () => {
  const payload = realFixture('group-first-replica-a');
  const start = Date.parse(payload.alerts[0]!.startsAt);
  const snapshot = mergeWebhook(undefined, payload, start + 1500).snapshot;

  it('one compact block per vehicle, each with its driver and dashboard; times in display_timezone', async () => {
    const { slack, view } = await pin('two-vehicles', {
      snapshot,
      now: start + 7 * MINUTE,
      timeZone: 'Europe/Amsterdam',
      preview: true,
    });
    expect(view.assets.map((a) => a.title)).toEqual([
      'TRK-0042 · depot Rotterdam-North',
      'TRK-0077 · depot Venlo',
    ]);
    for (const asset of view.assets) for (const line of asset.facts) expect(line.length).toBeLessThan(160);
    const all = JSON.stringify(slack);
    expect(all).toContain('var-vehicle_id=TRK-0042');
    expect(all).toContain('var-vehicle_id=TRK-0077');
    expect(all).toContain('<tel:+4915123450077|+49 151 2345 0077>');
    expect(all).toContain('Firing since 04:08 CET');
    expect(all).toContain('_Preview: these buttons are inactive (SLACK_SIGNING_SECRET is not set)._');
    // The rule's annotation is the runbook, in the links and on the button alike.
    expect(
      all
        .match(/https:\/\/runbooks\.[a-z.]+\/[a-z/-]+/g)
        ?.every((u) => u === 'https://runbooks.example/reefer-excursion'),
    ).toBe(true);
  });

  it('forty vehicles still fit Slack: the limits helper finds nothing, and flags a real overrun', async () => {
    const base = payload.alerts[0]!;
    const many = structuredClone(payload);
    many.alerts = Array.from({ length: 40 }, (_, i) => ({
      ...base,
      fingerprint: `f${String(i).padStart(15, '0')}`,
      labels: { ...base.labels, vehicle_id: `TRK-${1000 + i}`, shipment_id: `SHP-${1000 + i}` },
    }));
    const big = mergeWebhook(undefined, many, start + 1500).snapshot;
    const { slack } = await render({ snapshot: big, now: start + 7 * MINUTE });
    expectWithinSlackLimits(slack);
    const overrun = structuredClone(slack);
    (overrun.attachments[0]!.blocks[0] as { text: { text: string } }).text.text = 'x'.repeat(151);
    expect(slackLimitViolations(overrun)).toEqual(['attachments[0].blocks[0] (header): text is 151 > 150']);
  });
});
