/**
 * Property-based fuzz of rendering (fast-check): arbitrary label and annotation maps — lone surrogates,
 * control characters, mrkdwn and HTML metacharacters, huge values, hostile URLs — through the merge, the
 * cold-chain context stage, the message view, Slack (root, plain fallback, replies) and email (every event).
 * Nothing may throw, and every Slack text must stay within Slack's limits and be well-formed UTF-16.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type EmailEvent, loadEmailTemplates, subjectFor } from '../../src/channels/email/render.js';
import {
  renderAcknowledgedReply,
  renderChangeReply,
  renderReminderReply,
  renderSlackPlain,
  renderSlackRoot,
  SLACK_LIMITS,
} from '../../src/channels/slack/blocks.js';
import { FileContextProvider } from '../../src/context/index.js';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import { createContextStage } from '../../src/deliver/context-stage.js';
import type { WebhookPayload } from '../../src/receive/schema.js';
import { buildView } from '../../src/render/view.js';
import { fixture } from '../support/fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const NOW = Date.parse('2026-11-26T03:30:00Z');
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Label names the renderers look at, so the fuzz reaches their code paths and not only unknown labels. */
const KNOWN_NAMES = [
  'alertname',
  'severity',
  'vehicle_id',
  'shipment_id',
  'facility',
  'service',
  'instance',
  'job',
  'summary',
  'description',
  'runbook_url',
  'value',
  'temperature_c',
  'zone',
];

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '\ud800',
      'a\udc00b',
      '<!channel>',
      '<http://evil.example|click>',
      '&amp;<>&',
      'http://evil.example/a|Official runbook',
      'javascript:alert(1)',
      '\r\nBcc: x@example.com',
      '\u0000\u001f\u007f',
      'TRK-0042',
      'critical',
      'PostgreSQLDown',
      '{{view.title}}',
      '`code` *bold* _it_',
    ),
  },
  { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
  // Huge values, built by repetition: generating thousands of arbitrary characters one by one would
  // dominate the run.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), fc.integer({ min: 100, max: 1000 }))
      .map(([unit, times]) => unit.repeat(times)),
  },
);

/** A failed check; plain checks, since thousands of expect() calls per case would dominate the run. */
function check(condition: boolean, what: string, value?: unknown): void {
  if (!condition)
    throw new Error(`${what}${value === undefined ? '' : `: ${JSON.stringify(value).slice(0, 300)}`}`);
}
const name = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...KNOWN_NAMES) },
  { weight: 1, arbitrary: text },
);
const labelMap = fc.dictionary(name, text, { maxKeys: 8 });

const alertArb = fc.record({
  status: fc.constantFrom('firing', 'resolved') as fc.Arbitrary<'firing' | 'resolved'>,
  labels: labelMap,
  annotations: labelMap,
  fingerprint: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
  generatorURL: text,
});

const payloadArb = fc.record({
  alerts: fc.array(alertArb, { minLength: 1, maxLength: 6 }),
  groupLabels: labelMap,
  commonLabels: labelMap,
  commonAnnotations: labelMap,
  externalURL: text,
  receiver: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
  truncatedAlerts: fc.nat({ max: 5 }),
});

type PayloadInput = typeof payloadArb extends fc.Arbitrary<infer T> ? T : never;

function payloadOf(input: PayloadInput): WebhookPayload {
  const base = fixture('firing-reefer-excursion');
  return {
    ...base,
    ...input,
    status: input.alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts: input.alerts.map((a, i) => ({
      ...a,
      startsAt: '2026-11-26T02:53:34Z',
      endsAt: a.status === 'resolved' ? '2026-11-26T03:10:00Z' : '0001-01-01T00:00:00Z',
      fingerprint: `${a.fingerprint}${i}`,
    })),
  };
}

/** Every string in a value, for the well-formedness check. */
function stringsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsIn(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) stringsIn(v, out);
  return out;
}

describe('renderer fuzz', () => {
  const templates = loadEmailTemplates();
  const stage = createContextStage({
    provider: FileContextProvider.fromFile(),
    deadlineMs: 500,
    onUnavailable: () => {},
  });
  const events: EmailEvent[] = [
    { kind: 'post' },
    { kind: 'reminder', number: 2 },
    { kind: 'acknowledged', by: 'dispatcher', at: NOW },
  ];

  it(`renders ${RUNS} arbitrary label and annotation maps without a throw, within Slack's limits`, async () => {
    let rendered = 0;
    await fc.assert(
      fc.asyncProperty(payloadArb, fc.boolean(), fc.boolean(), async (input, withContext, resolve) => {
        const payload = payloadOf(input);
        let snapshot = mergeWebhook(undefined, payload, NOW - 60_000).snapshot;
        if (resolve) {
          const alerts = payload.alerts.map((a) => ({ ...a, status: 'resolved' as const }));
          snapshot = mergeWebhook(snapshot, { ...payload, status: 'resolved', alerts }, NOW).snapshot;
        }
        {
          const context = withContext ? await stage.describe(snapshot, NOW) : undefined;
          const view = buildView(snapshot, {
            now: NOW,
            context: context?.view,
            severity: context?.severity,
            flags: { acknowledged: { by: input.receiver, at: NOW, alertKeys: [], truncatedAlerts: 0 } },
          });
          const root = renderSlackRoot(view, { actions: [{ type: 'actions', elements: [] }] });
          const blocks = root.attachments[0]!.blocks as {
            type: string;
            text?: { text: string };
            elements?: { text?: string }[];
          }[];
          check(root.text.length <= SLACK_LIMITS.text, 'text too long', root.text.length);
          check(root.attachments[0]!.fallback.length <= SLACK_LIMITS.text, 'fallback too long');
          check(blocks.length <= SLACK_LIMITS.blocks, 'too many blocks', blocks.length);
          check(blocks[0]!.text!.text.length <= SLACK_LIMITS.header, 'header too long', blocks[0]);
          let total = 0;
          for (const block of blocks) {
            const texts = [block.text?.text ?? '', ...(block.elements ?? []).map((e) => e.text ?? '')];
            check((block.elements ?? []).length <= SLACK_LIMITS.contextElements, 'too many elements');
            for (const t of texts) check(t.length <= SLACK_LIMITS.section, 'block text too long', t.length);
            total += texts.reduce((n, t) => n + t.length, 0);
          }
          check(total <= SLACK_LIMITS.blocksTotal, 'blocks too long in all', total);
          const replies = [
            renderSlackPlain(view),
            renderChangeReply(
              {
                joined: snapshot.alerts,
                resolved: snapshot.alerts,
                incidentResolved: snapshot.status === 'resolved',
                truncatedBefore: 0,
                truncatedNow: snapshot.truncatedAlerts,
              },
              view,
            ),
            renderReminderReply(3, view),
            renderAcknowledgedReply(input.receiver, NOW, NOW - 60_000),
          ];
          for (const reply of replies)
            check(reply.length <= SLACK_LIMITS.text, 'reply too long', reply.length);
          for (const s of stringsIn([root, replies]))
            check(!LONE_SURROGATE.test(s), 'lone surrogate sent', s);
          // One email event per case (in turn), so every kind is rendered thousands of times in all.
          const event = events[rendered % events.length]!;
          const mail = templates.render(view, event, { subject: subjectFor(view), now: NOW });
          check(!/[\r\n]/.test(mail.subject), 'subject spans lines', mail.subject);
          check(mail.html.length > 0 && mail.text.length > 0, 'empty email');
          rendered++;
        }
      }),
      { numRuns: RUNS },
    );
    expect(rendered).toBe(RUNS);
  }, 120_000);
});
