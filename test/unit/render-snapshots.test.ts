/**
 * What people see, pinned: the Slack message and the email text for one infrastructure incident
 * (PostgreSQLDown) and one reefer incident (ReeferTemperatureExcursion on TRK-0042), with the shipped
 * catalog and sample fleet. A change to wording or layout shows up here as a diff to review.
 */
import { describe, expect, it } from 'vitest';
import { loadEmailTemplates, subjectFor } from '../../src/channels/email/render.js';
import { renderSlackRoot } from '../../src/channels/slack/blocks.js';
import { FileContextProvider } from '../../src/context/index.js';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import { createContextStage } from '../../src/deliver/context-stage.js';
import { buildView } from '../../src/render/view.js';
import type { FixtureName } from '../support/fixtures.js';
import { fixture } from '../support/fixtures.js';

const stage = createContextStage({
  provider: FileContextProvider.fromFile(),
  deadlineMs: 1000,
  onUnavailable: () => undefined,
});
const templates = loadEmailTemplates();

/** Slack blocks as readable text: one line per block. */
function slackText(rendered: ReturnType<typeof renderSlackRoot>): string {
  const lines = [`text: ${rendered.text}`, `colour: ${rendered.attachments[0]!.color}`];
  for (const block of rendered.attachments[0]!.blocks) {
    const b = block as { type: string; text?: { text: string }; elements?: { text?: string }[] };
    lines.push(`[${b.type}] ${b.text?.text ?? (b.elements ?? []).map((e) => e.text ?? '').join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

async function render(name: FixtureName, minutesAfterStart: number) {
  const payload = fixture(name);
  const received = Date.parse(payload.alerts[0]!.startsAt) + 60_000;
  const now = Date.parse(payload.alerts[0]!.startsAt) + minutesAfterStart * 60_000;
  const snapshot = mergeWebhook(undefined, payload, received).snapshot;
  const context = await stage.describe(snapshot, now);
  const view = buildView(snapshot, { now, context: context.view, severity: context.severity });
  const subject = subjectFor(view);
  return {
    slack: slackText(renderSlackRoot(view)),
    email: `Subject: ${subject}\n\n${templates.render(view, { kind: 'post' }, { subject, now }).text}`,
  };
}

describe('rendered messages', () => {
  it('infrastructure: PostgreSQLDown', async () => {
    const { slack, email } = await render('firing-postgresql-down', 3);
    await expect(slack).toMatchFileSnapshot('__snapshots__/postgresql-down.slack.txt');
    await expect(email).toMatchFileSnapshot('__snapshots__/postgresql-down.email.txt');
  });

  it('reefer: ReeferTemperatureExcursion on TRK-0042', async () => {
    const { slack, email } = await render('firing-reefer-excursion', 19);
    await expect(slack).toMatchFileSnapshot('__snapshots__/reefer-excursion.slack.txt');
    await expect(email).toMatchFileSnapshot('__snapshots__/reefer-excursion.email.txt');
  });
});
