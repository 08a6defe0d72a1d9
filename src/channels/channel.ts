import { appendEvent, type DeliveryLog, type IncidentFlags } from '../domain/delivery-log.js';
import type { ChannelKind, DeliveryTarget, IncidentSnapshot } from '../domain/model.js';
import { type PlannedAction, toldStateOf } from '../domain/plan.js';
import type { Metrics } from '../observability/metrics.js';
import type { MessageView } from '../render/view.js';
import { TransientDeliveryError } from './errors.js';

export interface DeliveryRun {
  snapshot: IncidentSnapshot;
  delivery: DeliveryTarget;
  log: DeliveryLog;
  flags: IncidentFlags;
  view: MessageView;
  now: number;
  /** When the webhook behind this job was accepted, for the latency histogram. */
  acceptedAt: number;
  save(): Promise<void>;
}

export interface Deliverer {
  /** Brings the destination's standing message up to date (Slack: update the root in place). */
  sync(run: DeliveryRun): Promise<void>;
  perform(run: DeliveryRun, action: PlannedAction): Promise<void>;
}

/**
 * Sends once, recording the outcome. A send whose result cannot be known (a timeout or reset after the
 * request went out, or a crash) leaves `inFlight` set for the next attempt. A Slack message is looked up
 * before it is sent again (slackDeliverer), and only copies actually found count as duplicates; an email
 * has no such look-up, so its resend counts as a possible duplicate (DESIGN.md allows one per crash).
 * `channel` is the Slack channel id, when known, for that look-up.
 */
export async function sendRecorded(
  run: DeliveryRun,
  deps: { metrics: Metrics },
  kind: ChannelKind,
  action: string,
  preview: boolean,
  send: () => Promise<void>,
  options: { channel?: string | undefined } = {},
): Promise<void> {
  const earlier = run.log.inFlight;
  const lookedUp = kind === 'slack';
  if (earlier && !lookedUp) deps.metrics.duplicatePosts.inc({ channel: kind });
  // The look-up window opens at the first of consecutive attempts that may each have been delivered.
  const since = lookedUp && earlier?.action === action ? (earlier.since ?? earlier.at) : undefined;
  run.log.inFlight = {
    action,
    at: run.now,
    ...(since !== undefined ? { since } : {}),
    ...(options.channel ? { channel: options.channel } : {}),
  };
  await run.save();
  try {
    await send();
  } catch (error) {
    if (!(error instanceof TransientDeliveryError && error.ambiguous)) {
      // This attempt surely sent nothing, but an earlier one may still have been delivered: keep that for the
      // look-up (there is none for email, whose resend was counted once above).
      if (earlier && lookedUp) run.log.inFlight = earlier;
      else delete run.log.inFlight;
      await run.save().catch(() => undefined);
    }
    throw error;
  }
  delete run.log.inFlight;
  const outcome = preview ? 'previewed' : 'delivered';
  run.log.lastOutcome = outcome;
  appendEvent(run.log, { at: Date.now(), action, outcome });
  deps.metrics.deliveries.inc({ channel: kind, outcome });
  if (action !== 'reminder')
    deps.metrics.deliveryLatency.observe({ channel: kind }, Math.max(0, Date.now() - run.acceptedAt) / 1000);
}

function markNotified(run: DeliveryRun): void {
  run.log.told = toldStateOf(run.snapshot);
  run.log.lastNotifiedAt = run.now;
}

export function applyAction(run: DeliveryRun, action: PlannedAction): void {
  switch (action.kind) {
    case 'post':
      markNotified(run);
      run.log.noticesTold = [...(action.notices ?? [])];
      break;
    case 'change':
      markNotified(run);
      break;
    case 'notice':
      run.log.noticesTold = [...(run.log.noticesTold ?? []), action.notice.key];
      if (action.notice.reminds) {
        // A lapse is a reminder: the clock restarts, and the next acknowledgement is news again.
        run.log.lastNotifiedAt = run.now;
        run.log.acknowledgedNotified = false;
      }
      break;
    case 'reminder':
      run.log.reminders = action.number;
      run.log.lastNotifiedAt = run.now;
      // A reminder means the group is fresh again: a later staleness is news and is announced again.
      run.log.staleNotified = false;
      break;
    case 'stale':
      run.log.staleNotified = true;
      break;
    case 'acknowledged':
      run.log.acknowledgedNotified = true;
      break;
  }
}
