/**
 * Slack's documented limits, checked on a rendered message: the one helper every snapshot test uses.
 * Storm digest and flap snapshots (issue 14, the other half of this worktree): call
 * `expectWithinSlackLimits(message)` on each chat.postMessage / chat.update body you pin, as
 * test/unit/render-scenarios.test.ts does.
 *
 * The figures are the renderer's own SLACK_LIMITS (src/channels/slack/blocks.ts), so the code that shortens
 * and the test that checks agree; they are Slack's documented ones (Block Kit reference, chat.postMessage):
 * header plain_text ≤ 150, section text ≤ 3,000, ≤ 10 fields of ≤ 2,000 each, ≤ 50 blocks, ≤ 10 context
 * elements, ≤ 25 elements in an actions block, button text ≤ 75; plus the undocumented ~13k total of block
 * text (blocksTotal) the renderer keeps under.
 */
import type { KnownBlock } from '@slack/types';
import { expect } from 'vitest';
import { SLACK_LIMITS } from '../../src/channels/slack/blocks.js';

/** Slack cuts the top-level `text` at 40,000 characters (chat.postMessage). */
const SLACK_TEXT_LIMIT = 40_000;
/** block_id and action_id: 255 characters (Block Kit reference). */
const SLACK_ID_LIMIT = 255;
const SLACK_URL_LIMIT = 3000;

export interface SlackMessageLike {
  text?: string | undefined;
  blocks?: KnownBlock[] | undefined;
  attachments?: { blocks?: KnownBlock[] | undefined; fallback?: string | undefined }[] | undefined;
}

interface TextObject {
  type?: string;
  text?: string;
}

/** Every limit the message breaks, as readable lines ("attachments[0].blocks[3] (section): text is 3012 > 3000"). */
export function slackLimitViolations(message: SlackMessageLike): string[] {
  const problems: string[] = [];
  const over = (where: string, what: string, length: number, limit: number) => {
    if (length > limit) problems.push(`${where}: ${what} is ${length} > ${limit}`);
  };
  if (message.text !== undefined) over('text', 'length', message.text.length, SLACK_TEXT_LIMIT);
  const lists: [string, KnownBlock[]][] = [];
  if (message.blocks) lists.push(['blocks', message.blocks]);
  for (const [i, attachment] of (message.attachments ?? []).entries())
    if (attachment.blocks) lists.push([`attachments[${i}].blocks`, attachment.blocks]);
  for (const [where, blocks] of lists) {
    over(where, 'block count', blocks.length, SLACK_LIMITS.blocks);
    let total = 0;
    for (const [i, block] of blocks.entries()) {
      const at = `${where}[${i}] (${block.type})`;
      const b = block as {
        block_id?: string;
        text?: TextObject;
        fields?: TextObject[];
        elements?: { text?: string | TextObject; action_id?: string; url?: string }[];
      };
      if (b.block_id !== undefined) over(at, 'block_id', b.block_id.length, SLACK_ID_LIMIT);
      const text = b.text?.text ?? '';
      total += text.length;
      if (block.type === 'header') {
        if (b.text?.type !== 'plain_text') problems.push(`${at}: header text must be plain_text`);
        over(at, 'text', text.length, SLACK_LIMITS.header);
      }
      if (block.type === 'section') {
        over(at, 'text', text.length, SLACK_LIMITS.section);
        if (!text && !(b.fields ?? []).length) problems.push(`${at}: a section needs text or fields`);
        over(at, 'field count', (b.fields ?? []).length, SLACK_LIMITS.fields);
        for (const [j, field] of (b.fields ?? []).entries()) {
          over(`${at}.fields[${j}]`, 'text', field.text?.length ?? 0, SLACK_LIMITS.field);
          total += field.text?.length ?? 0;
        }
      }
      if (block.type === 'context') {
        over(at, 'element count', (b.elements ?? []).length, SLACK_LIMITS.contextElements);
        for (const [j, element] of (b.elements ?? []).entries()) {
          const t = typeof element.text === 'string' ? element.text : '';
          over(`${at}.elements[${j}]`, 'text', t.length, SLACK_LIMITS.section);
          total += t.length;
        }
      }
      if (block.type === 'actions') {
        over(at, 'element count', (b.elements ?? []).length, SLACK_LIMITS.actionsElements);
        for (const [j, element] of (b.elements ?? []).entries()) {
          const label = typeof element.text === 'object' ? (element.text.text ?? '') : '';
          over(`${at}.elements[${j}]`, 'button text', label.length, SLACK_LIMITS.buttonText);
          if (element.action_id !== undefined)
            over(`${at}.elements[${j}]`, 'action_id', element.action_id.length, SLACK_ID_LIMIT);
          if (element.url !== undefined)
            over(`${at}.elements[${j}]`, 'url', element.url.length, SLACK_URL_LIMIT);
        }
      }
    }
    over(where, 'total block text', total, SLACK_LIMITS.blocksTotal);
  }
  return problems;
}

export function expectWithinSlackLimits(message: SlackMessageLike): void {
  expect(slackLimitViolations(message)).toEqual([]);
}
