import { describe, expect, it } from 'vitest';
import { loadEmailTemplates, sanitizeHeader, subjectFor } from '../../src/channels/email/render.js';
import { escapeMrkdwn, renderSlackRoot } from '../../src/channels/slack/blocks.js';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import type { IncidentSnapshot } from '../../src/domain/model.js';
import { buildView, MAX_ALERT_LINES } from '../../src/render/view.js';
import { fixture } from '../support/fixtures.js';

const NOW = Date.parse('2026-11-26T03:30:00Z');

function hostile(): IncidentSnapshot {
  const payload = fixture('firing-reefer-excursion');
  const alert = payload.alerts[0]!;
  alert.labels = {
    ...alert.labels,
    vehicle_id: '<!channel> TRK\r\nBcc: evil@example.com',
    driver: '<http://evil.example|click me>',
  };
  alert.annotations = { ...alert.annotations, summary: '<script>alert(1)</script> & <b>bold</b>' };
  payload.commonLabels = { ...payload.commonLabels, vehicle_id: alert.labels.vehicle_id! };
  payload.commonAnnotations = { summary: alert.annotations.summary! };
  return mergeWebhook(undefined, payload, NOW).snapshot;
}

describe('Slack rendering', () => {
  it('escapes every label and annotation, so a value cannot ping the channel or forge a link', () => {
    const rendered = JSON.stringify(renderSlackRoot(buildView(hostile(), { now: NOW })));
    expect(rendered).not.toContain('<!channel>');
    expect(rendered).not.toContain('<http://evil.example|click me>');
    expect(rendered).toContain('&lt;!channel&gt;');
    expect(rendered).toContain('&lt;http://evil.example|click me&gt;');
    expect(escapeMrkdwn('a & <b>')).toBe('a &amp; &lt;b&gt;');
  });

  it('uses a coloured attachment with a header, stays within Slack limits, and says how many alerts were left out', () => {
    const payload = fixture('group-truncated-replica-a');
    const base = payload.alerts[0]!;
    payload.alerts = Array.from({ length: 40 }, (_, i) => ({
      ...base,
      fingerprint: `fp${i}`,
      labels: { ...base.labels, vehicle_id: `TRK-${i}`.padEnd(200, 'x') },
    }));
    const view = buildView(mergeWebhook(undefined, payload, NOW).snapshot, { now: NOW });
    const rendered = renderSlackRoot(view);
    const blocks = rendered.attachments[0]!.blocks;
    expect(rendered.attachments[0]!.color).toBe('#E01E5A');
    expect(blocks[0]).toMatchObject({ type: 'header' });
    expect(blocks.length).toBeLessThanOrEqual(50);
    for (const block of blocks) {
      const text = (block as { text?: { text: string } }).text?.text ?? '';
      expect(text.length).toBeLessThanOrEqual(3000);
    }
    const all = JSON.stringify(blocks);
    expect(all).toContain(`…and ${40 - MAX_ALERT_LINES} more`);
    expect(all).toContain('Alertmanager left 1 more alert out of this notification');
  });

  it('shows a resolved incident in green with how long it lasted', () => {
    const s = mergeWebhook(
      mergeWebhook(undefined, fixture('firing-postgresql-down'), NOW).snapshot,
      fixture('resolved-postgresql-down'),
      NOW + 60_000,
    ).snapshot;
    const rendered = renderSlackRoot(buildView(s, { now: NOW + 60_000 }));
    expect(rendered.attachments[0]!.color).toBe('#2EB67D');
    expect(rendered.text).toContain('RESOLVED');
    expect(JSON.stringify(rendered)).toMatch(/Resolved after \d+[sm]/);
  });
});

describe('email rendering', () => {
  const templates = loadEmailTemplates();

  it('keeps the subject on one line and escapes HTML', () => {
    const view = buildView(hostile(), { now: NOW });
    const subject = subjectFor(view);
    expect(subject).not.toMatch(/[\r\n]/);
    expect(subject.startsWith('[CRITICAL] ReeferTemperatureExcursion · ')).toBe(true);
    const mail = templates.render(view, { kind: 'post' }, { subject, now: NOW });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;');
    expect(mail.text).toContain('<script>alert(1)</script>');
    expect(sanitizeHeader('a\r\nBcc: x\u0000y')).toBe('a Bcc: x y');
  });

  it('refuses a template folder with a broken template at start, naming it', () => {
    expect(() => loadEmailTemplates('/nonexistent-templates')).toThrow(
      /email template \/nonexistent-templates\/email.html.hbs: cannot read/,
    );
  });
});
