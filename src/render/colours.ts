/** The one colour table of a message: the severity's colour while firing, green once resolved (Slack and email alike). */
import type { MessageView } from './view.js';

const SEVERITY_COLOURS: Record<string, string> = { critical: '#E01E5A', warning: '#ECB22E', info: '#36C5F0' };
export const RESOLVED_COLOUR = '#2EB67D';
const UNKNOWN_SEVERITY_COLOUR = '#888888';

export function colourOf(view: Pick<MessageView, 'status' | 'severity'>): string {
  return view.status === 'resolved'
    ? RESOLVED_COLOUR
    : (SEVERITY_COLOURS[view.severity] ?? UNKNOWN_SEVERITY_COLOUR);
}
