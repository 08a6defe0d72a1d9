/**
 * Rendering hostile label data (pure): lone surrogates, impossible stored timestamps, huge values, link text
 * chosen by an annotation. A renderer that throws turns one bad character into a dead letter; one that
 * exceeds Slack's limits gets msg_too_long, which is permanent.
 */
import { describe, expect, it } from 'vitest';
import { loadEmailTemplates } from '../../src/channels/email/render.js';
import {
  renderAcknowledgedReply,
  renderChangeReply,
  renderSlackPlain,
  renderSlackRoot,
  SLACK_LIMITS,
} from '../../src/channels/slack/blocks.js';
import { buildSilenceUrl, buildVehicleDashboardUrl } from '../../src/context/links.js';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import type { IncidentSnapshot } from '../../src/domain/model.js';
import type { ChangeSummary } from '../../src/domain/plan.js';
import { safeUrl } from '../../src/render/describe.js';
import { buildView } from '../../src/render/view.js';
import { fixture } from '../support/fixtures.js';

const NOW = Date.parse('2026-11-26T03:30:00Z');

function snapshotWith(edit: (p: ReturnType<typeof fixture>) => void): IncidentSnapshot {
  const payload = fixture('firing-reefer-excursion');
  edit(payload);
  return mergeWebhook(undefined, payload, NOW).snapshot;
}

/** Every text string Slack would show or check: top-level text, fallbacks, block texts. */
function textsOf(rendered: ReturnType<typeof renderSlackRoot>): string[] {
  const out = [rendered.text];
  for (const a of rendered.attachments) {
    out.push(a.fallback);
    for (const b of a.blocks as { text?: { text: string }; elements?: { text?: string }[] }[]) {
      if (b.text) out.push(b.text.text);
      for (const e of b.elements ?? []) if (e.text) out.push(e.text);
    }
  }
  return out;
}

describe('a lone UTF-16 surrogate in label data', () => {
  const bad = 'TRK-\ud800-42';

  it('does not make link building throw', () => {
    expect(() => encodeURIComponent(bad)).toThrow(URIError);
    expect(buildSilenceUrl('http://am:9093', [['vehicle_id', bad]])).toContain('TRK-%EF%BF%BD-42');
    expect(buildVehicleDashboardUrl('http://grafana', '/d/v?var-vehicle={vehicle_id}', bad)).toContain(
      'TRK-%EF%BF%BD-42',
    );
  });

  it('renders Slack and email with U+FFFD in its place', () => {
    const snapshot = snapshotWith((p) => {
      p.alerts[0]!.labels.vehicle_id = bad;
      p.commonLabels.vehicle_id = bad;
      p.groupLabels = { ...p.groupLabels, vehicle_id: bad };
      p.alerts[0]!.annotations.summary = `\udc00${bad}`;
    });
    const view = buildView(snapshot, { now: NOW });
    const slack = JSON.stringify(renderSlackRoot(view));
    expect(slack).toContain('TRK-\ufffd-42');
    expect(slack).not.toMatch(/\\ud800|\\udc00/);
    const mail = loadEmailTemplates().render(view, { kind: 'post' }, { subject: 's', now: NOW });
    expect(mail.text).toContain('TRK-\ufffd-42');
    expect(view.links.find((l) => l.label === 'Alertmanager')?.url).toContain('%EF%BF%BD');
  });

  it('sends the message without a part that still fails (an impossible stored endsAt)', () => {
    const first = mergeWebhook(undefined, fixture('firing-postgresql-down'), NOW).snapshot;
    const resolved = structuredClone(first);
    resolved.status = 'resolved';
    resolved.resolvedAt = NOW;
    resolved.alerts[0]!.status = 'resolved';
    // Stored before timestamps were checked on the way in.
    resolved.alerts[0]!.endsAt = 'not-a-time';
    resolved.alerts[0]!.startsAt = '+275760-09-13T00:00:01Z';
    const view = buildView(resolved, { now: NOW });
    expect(view.alerts).toHaveLength(1);
    expect(JSON.stringify(renderSlackRoot(view))).toContain('RESOLVED');
  });
});

describe('Slack limits', () => {
  const huge = 'S'.repeat(100_000);

  it('shortens a 100 KB summary in text, fallback and blocks with "…" and a link', () => {
    const snapshot = snapshotWith((p) => {
      p.alerts[0]!.annotations.summary = huge;
      p.commonAnnotations = { summary: huge };
    });
    const rendered = renderSlackRoot(buildView(snapshot, { now: NOW }));
    expect(rendered.text.length).toBeLessThanOrEqual(SLACK_LIMITS.text);
    expect(rendered.text).toMatch(/…/);
    expect(rendered.text).toContain('<http://vm:19095/#/alerts');
    expect(rendered.attachments[0]!.fallback.length).toBeLessThanOrEqual(SLACK_LIMITS.text);
    const blocks = rendered.attachments[0]!.blocks as { type: string; text?: { text: string } }[];
    expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(blocks[0]!.text!.text.length).toBeLessThanOrEqual(SLACK_LIMITS.header);
    for (const text of textsOf(rendered)) expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.section);
    const total = textsOf(rendered)
      .slice(2)
      .reduce((n, t) => n + t.length, 0);
    expect(total).toBeLessThanOrEqual(SLACK_LIMITS.blocksTotal);
    expect(JSON.stringify(blocks)).toContain('…');
  });

  it('shortens a message of many huge alert lines to the block budget, keeping the incident id', () => {
    const payload = fixture('group-truncated-replica-a');
    const base = payload.alerts[0]!;
    payload.alerts = Array.from({ length: 30 }, (_, i) => ({
      ...base,
      fingerprint: `fp${i}`,
      labels: { ...base.labels, vehicle_id: `TRK-${i}-${'v'.repeat(2500)}` },
      annotations: { summary: 'z'.repeat(2500) },
    }));
    const snapshot = mergeWebhook(undefined, payload, NOW).snapshot;
    const rendered = renderSlackRoot(buildView(snapshot, { now: NOW }));
    const texts = textsOf(rendered).slice(2);
    expect(texts.reduce((n, t) => n + t.length, 0)).toBeLessThanOrEqual(SLACK_LIMITS.blocksTotal);
    expect(texts.at(-1)).toContain(snapshot.incidentId);
    expect(texts.join('\n')).toContain('message shortened');
  });

  it('keeps a header of escaped characters within 150 without cutting an entity', () => {
    const snapshot = snapshotWith((p) => {
      p.commonLabels.vehicle_id = '&'.repeat(400);
    });
    const header = (
      renderSlackRoot(buildView(snapshot, { now: NOW })).attachments[0]!.blocks[0] as {
        text: { text: string };
      }
    ).text.text;
    expect(header.length).toBeLessThanOrEqual(SLACK_LIMITS.header);
    expect(header).toMatch(/&amp;…$/);
  });

  it('keeps thread replies and the plain-text fallback within the text limit', () => {
    const snapshot = snapshotWith((p) => {
      p.alerts[0]!.labels.vehicle_id = huge;
      p.commonLabels.vehicle_id = huge;
    });
    const view = buildView(snapshot, { now: NOW });
    const change: ChangeSummary = {
      joined: snapshot.alerts,
      resolved: [],
      incidentResolved: false,
      truncatedBefore: 0,
      truncatedNow: 0,
    };
    expect(renderChangeReply(change, view).length).toBeLessThanOrEqual(SLACK_LIMITS.text);
    expect(renderSlackPlain(view).length).toBeLessThanOrEqual(SLACK_LIMITS.text);
    expect(renderAcknowledgedReply(huge, NOW, NOW).length).toBeLessThanOrEqual(SLACK_LIMITS.text);
  });
});

describe('links chosen by an annotation', () => {
  it('cannot choose the visible text of a Slack link: | is encoded', () => {
    const snapshot = snapshotWith((p) => {
      // The rule's annotation is on every alert (Alertmanager derives commonAnnotations from them).
      p.commonAnnotations = { ...p.commonAnnotations, runbook_url: 'http://evil.example/a|Official runbook' };
      p.alerts[0]!.annotations = {
        ...p.alerts[0]!.annotations,
        runbook_url: 'http://evil.example/a|Official runbook',
      };
    });
    const rendered = JSON.stringify(renderSlackRoot(buildView(snapshot, { now: NOW })));
    expect(rendered).toContain('<http://evil.example/a%7COfficial%20runbook|Runbook>');
    expect(rendered).not.toContain('|Official');
    expect(safeUrl('https://x.example/?q=a|b')).toBe('https://x.example/?q=a%7Cb');
  });

  it('makes links of http(s) URLs only', () => {
    for (const url of ['javascript:alert(1)', 'mailto:a@b', 'file:///etc/passwd', 'data:text/html,x'])
      expect(safeUrl(url)).toBeUndefined();
  });
});
