/**
 * The channel registry (DESIGN.md §Style): one Deliverer per ChannelKind, typed as a Record so a missing
 * channel fails to compile. A deliverer turns a planned action into messages and records each in the
 * delivery log before moving on, so a retry continues where the last attempt stopped.
 */
import { createHash } from 'node:crypto';
import type { ChannelKind, DeliveryTarget, IncidentSnapshot } from '../model.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type EmailEvent, type EmailTemplates, replySubject, subjectFor } from '../render/email.js';
import {
  renderAcknowledgedReply,
  renderChangeReply,
  renderReminderReply,
  renderSlackPlain,
  renderSlackRoot,
  renderStaleReply,
} from '../render/slack.js';
import type { MessageView } from '../render/view.js';
import {
  appendEvent,
  type DeliveryLog,
  type DeliveryStore,
  type IncidentFlags,
} from '../store/delivery-store.js';
import { InvalidBlocksError, RateLimitedError, TransientDeliveryError } from './errors.js';
import type { MailSender } from './mail-sender.js';
import { type PlannedAction, toldStateOf } from './plan.js';
import type { SlackMessage, SlackSender } from './slack-sender.js';

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

export interface ChannelDeps {
  slack: SlackSender;
  mail: MailSender;
  store: DeliveryStore;
  templates: EmailTemplates;
  metrics: Metrics;
  logger: Logger;
  emailFrom: string;
  slackPaceMs: number;
  /** Slack blocks for the firing message (acknowledge and silence buttons), when interactivity is on. */
  slackActions?: (run: DeliveryRun) => Record<string, unknown>[] | undefined;
  /** The acknowledge link for emails, when RELAY_ACK_SECRET and PUBLIC_URL are set. */
  ackUrl?: (run: DeliveryRun) => string | undefined;
}

/**
 * Sends once, recording the outcome. A send whose result cannot be known (a timeout after the request went
 * out) leaves `inFlight` set, so the next attempt counts the possible duplicate (DESIGN.md allows one per crash).
 */
async function sendRecorded(
  run: DeliveryRun,
  deps: ChannelDeps,
  kind: ChannelKind,
  action: string,
  preview: boolean,
  send: () => Promise<void>,
): Promise<void> {
  if (run.log.inFlight) deps.metrics.duplicatePosts.inc({ channel: kind });
  run.log.inFlight = { action, at: run.now };
  await run.save();
  try {
    await send();
  } catch (error) {
    if (!(error instanceof TransientDeliveryError && error.ambiguous)) {
      delete run.log.inFlight;
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

function applyAction(run: DeliveryRun, action: PlannedAction): void {
  switch (action.kind) {
    case 'post':
    case 'change':
      markNotified(run);
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

function slackDeliverer(deps: ChannelDeps): Deliverer {
  const { slack, store, metrics, logger } = deps;
  const gate = async (channel: string) => {
    const wait = await store.acquireSlackGate(channel, deps.slackPaceMs);
    if (wait > 0) throw new RateLimitedError(wait, 'pace');
  };
  /** Slack 429: block the channel for everyone until Retry-After has passed. */
  const call = async <T>(channel: string, run: () => Promise<T>): Promise<T> => {
    await gate(channel);
    try {
      return await run();
    } catch (error) {
      if (error instanceof RateLimitedError) await store.blockSlackGate(channel, error.waitMs);
      throw error;
    }
  };
  /**
   * One pace gate per channel, named as configured: the first post addresses '#alerts-critical', later
   * updates and replies its id 'C0…'. Gating them under two names let them burst past Slack's limit.
   */
  const gateOf = (r: DeliveryRun) => r.delivery.target;
  const rootMessage = (r: DeliveryRun): SlackMessage => {
    const rendered = renderSlackRoot(r.view, { actions: deps.slackActions?.(r) });
    return { channel: r.delivery.target, text: rendered.text, attachments: rendered.attachments };
  };
  const hashOf = (m: SlackMessage) =>
    createHash('sha256')
      .update(JSON.stringify([m.text, m.attachments]))
      .digest('hex')
      .slice(0, 16);
  /** Slack refused the blocks: say the same in plain text rather than say nothing. */
  const withPlainFallback = async <T>(
    r: DeliveryRun,
    message: SlackMessage,
    send: (m: SlackMessage) => Promise<T>,
  ): Promise<T> => {
    try {
      return await send(message);
    } catch (error) {
      if (!(error instanceof InvalidBlocksError)) throw error;
      logger.warn(
        { incidentId: r.snapshot.incidentId, reason: error.message },
        'Slack refused the blocks; resending as plain text',
      );
      return send({ channel: message.channel, text: renderSlackPlain(r.view) });
    }
  };
  const reply = async (r: DeliveryRun, action: string, text: string, broadcast = false) => {
    const root = r.log.root as { channel: string; ts: string };
    await sendRecorded(r, deps, 'slack', action, slack.preview, () =>
      call(gateOf(r), () =>
        slack.postMessage({
          channel: root.channel,
          text,
          thread_ts: root.ts,
          ...(broadcast ? { reply_broadcast: true } : {}),
        }),
      ).then(() => undefined),
    );
  };
  return {
    async sync(r) {
      if (!r.log.root?.ts || !r.log.root.channel) return;
      const message = { ...rootMessage(r), channel: r.log.root.channel };
      const hash = hashOf(message);
      if (hash === r.log.renderedHash) return;
      const ts = r.log.root.ts;
      // Slack keeps the fields an update omits: the plain-text fallback must clear the old attachment, or a
      // "resolved" text would sit above the stale "firing" blocks.
      await call(gateOf(r), () =>
        withPlainFallback(r, message, (m) => slack.update({ ...m, ts, attachments: m.attachments ?? [] })),
      );
      r.log.renderedHash = hash;
      await r.save();
    },
    async perform(r, action) {
      switch (action.kind) {
        case 'post': {
          const message = rootMessage(r);
          let posted: { channel: string; ts: string } | undefined;
          await sendRecorded(r, deps, 'slack', 'post', slack.preview, async () => {
            posted = await call(gateOf(r), () => withPlainFallback(r, message, (m) => slack.postMessage(m)));
          });
          // Stored before the job completes: a retry or another worker updates instead of posting again.
          r.log.root = { channel: posted!.channel, ts: posted!.ts, at: r.now };
          r.log.renderedHash = hashOf({ ...message, channel: posted!.channel });
          break;
        }
        case 'change':
          await reply(r, 'change', renderChangeReply(action.change, r.view));
          break;
        case 'reminder':
          await reply(
            r,
            'reminder',
            renderReminderReply(action.number, r.view),
            r.delivery.broadcastReminders,
          );
          metrics.remindersSent.inc({ channel: 'slack' });
          break;
        case 'stale':
          await reply(r, 'stale', renderStaleReply(action.lastSeenAt, r.now));
          break;
        case 'acknowledged':
          await reply(r, 'acknowledged', renderAcknowledgedReply(action.by, action.at, r.snapshot.startedAt));
          break;
      }
      applyAction(r, action);
      await r.save();
    },
  };
}

function emailDeliverer(deps: ChannelDeps): Deliverer {
  const { mail, templates, metrics } = deps;
  const domain = /@([\w.-]+)>?\s*$/.exec(deps.emailFrom)?.[1] ?? 'coldchain-relay.local';
  // Deterministic ids: a resend after a crash carries the same Message-ID, which mail clients collapse.
  const messageIdOf = (r: DeliveryRun, n: number) =>
    `<relay.${r.snapshot.incidentId}.${r.delivery.id}.${n}@${domain}>`;
  const eventOf = (action: PlannedAction): EmailEvent => {
    switch (action.kind) {
      case 'post':
        return { kind: 'firing' };
      case 'change':
        return { kind: 'change', change: action.change };
      case 'reminder':
        return { kind: 'reminder', number: action.number };
      case 'stale':
        return { kind: 'stale', lastSeenAt: action.lastSeenAt };
      case 'acknowledged':
        return { kind: 'acknowledged', by: action.by, at: action.at };
    }
  };
  return {
    async sync() {
      // An email cannot change once sent; changes are new mails in the thread.
    },
    async perform(r, action) {
      const first = action.kind === 'post';
      const subject = first ? subjectFor(r.view) : replySubject(r.log.root?.subject ?? subjectFor(r.view));
      const rendered = templates.render(r.view, eventOf(action), {
        subject,
        now: r.now,
        ackUrl: deps.ackUrl?.(r),
      });
      const messageId = messageIdOf(r, r.log.references.length);
      const references = [...r.log.references];
      await sendRecorded(r, deps, 'email', action.kind, mail.preview, () =>
        mail.send({
          from: deps.emailFrom,
          to: r.delivery.target.split(','),
          subject: rendered.subject,
          text: rendered.text,
          html: rendered.html,
          messageId,
          ...(references.length ? { inReplyTo: references.at(-1), references } : {}),
          headers: { 'X-Relay-Incident': r.snapshot.incidentId, 'Auto-Submitted': 'auto-generated' },
        }),
      );
      if (first) r.log.root = { messageId, subject, at: r.now };
      r.log.references.push(messageId);
      if (action.kind === 'reminder') metrics.remindersSent.inc({ channel: 'email' });
      applyAction(r, action);
      await r.save();
    },
  };
}

export function createDeliverers(deps: ChannelDeps): Record<ChannelKind, Deliverer> {
  return { slack: slackDeliverer(deps), email: emailDeliverer(deps) };
}
