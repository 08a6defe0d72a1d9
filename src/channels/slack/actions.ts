/** The buttons on a firing Slack message: Acknowledge, Silence 1 h / 4 h, and links to runbook and Grafana. */

import type { ActionsBlock, Button, ContextBlock } from '@slack/types';
import type { IncidentRef } from '../../ack/acknowledge.js';
import { formatElapsed } from '../../domain/duration.js';
import { acknowledgementCovers } from '../../domain/plan.js';
import type { DeliveryRun } from '../registry.js';

/** Button values carry the incident as `groupId:incidentId`. */
export function incidentRefValue(ref: IncidentRef): string {
  return `${ref.groupId}:${ref.incidentId}`;
}

/** The incident a button's value names, or undefined for a value the relay did not write. */
export function parseIncidentRef(value: unknown): IncidentRef | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^([0-9a-f]{16}):([0-9a-f]{16})$/.exec(value);
  return match ? { groupId: match[1]!, incidentId: match[2]! } : undefined;
}

const button = (action_id: string, text: string, extra: Pick<Button, 'style' | 'value' | 'url'>): Button => ({
  type: 'button',
  action_id,
  text: { type: 'plain_text', text, emoji: true },
  ...extra,
});

/** A silence button's action id carries its duration, checked against the policy when clicked. */
export function silenceActionId(seconds: number): string {
  return `relay_silence_${seconds}s`;
}

/**
 * The firing message's buttons. `inactive` (preview without SLACK_SIGNING_SECRET) still shows them, so the
 * preview matches production, with a line saying why clicks would do nothing.
 */
export function slackActionBlocks(
  run: DeliveryRun,
  options: { silenceDurations: number[]; inactive?: string | undefined },
): (ActionsBlock | ContextBlock)[] {
  const value = incidentRefValue(run.snapshot);
  const elements: Button[] = [];
  if (!acknowledgementCovers(run.flags, run.snapshot))
    elements.push(button('relay_ack', 'Acknowledge', { style: 'primary', value }));
  for (const seconds of options.silenceDurations) {
    elements.push(button(silenceActionId(seconds), `Silence ${formatElapsed(seconds * 1000)}`, { value }));
  }
  for (const [label, id] of [
    ['Runbook', 'relay_link_runbook'],
    ['Dashboard', 'relay_link_grafana'],
  ] as const) {
    const link = run.view.links.find((l) => l.label === label);
    if (link) elements.push(button(id, label === 'Dashboard' ? 'Grafana' : label, { url: link.url }));
  }
  if (!elements.length) return [];
  const actions: ActionsBlock = { type: 'actions', block_id: 'relay_actions', elements };
  if (!options.inactive) return [actions];
  return [
    actions,
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `_Preview: these buttons are inactive (${options.inactive})._` }],
    },
  ];
}
