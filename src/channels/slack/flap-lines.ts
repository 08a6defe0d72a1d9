/** What a flapping episode adds to its Slack message (issue 14, item 9): the counter and when it last settled. */
import type { KnownBlock } from '@slack/types';
import { type FlapShown, flapCounter } from '../../domain/flapping.js';
import { settledText } from '../episodes.js';
import { SLACK_LIMITS } from './blocks.js';

/** Times in display_timezone, as the rest of the message (`view.timeZone`, the run's clock). */
export interface FlapClock {
  timeZone?: string | undefined;
  now: number;
}

export function flapLine(flap: FlapShown, clock?: FlapClock): string {
  const settled =
    flap.lastSettledAt !== undefined
      ? ` · last settled at ${settledText(flap.lastSettledAt, clock?.timeZone, clock?.now)}`
      : '';
  return `:repeat: *${flapCounter(flap)}*${settled}`;
}

/** Puts the counter right under the header of a rendered root (or first in its text when no block fits). */
export function flapBlock(
  rendered: { text: string; attachments: { blocks: KnownBlock[] }[] },
  flap: FlapShown,
  clock?: FlapClock,
): void {
  const blocks = rendered.attachments[0]?.blocks;
  const line = flapLine(flap, clock);
  if (blocks && blocks.length < SLACK_LIMITS.blocks)
    blocks.splice(1, 0, { type: 'context', elements: [{ type: 'mrkdwn', text: line }] });
  else rendered.text = `${line}\n${rendered.text}`;
}

export function flapReplyText(flap: FlapShown, incidentId: string, clock?: FlapClock): string {
  return `:repeat: Fired again (new incident \`${incidentId}\`): ${flapLine(flap, clock).replace(':repeat: ', '')}`;
}
