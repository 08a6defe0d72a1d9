/**
 * The channel registry (DESIGN.md §Style): one Deliverer per ChannelKind, typed as a Record so a missing
 * channel fails to compile. A deliverer turns a planned action into messages and records each in the
 * delivery log before moving on, so a retry continues where the last attempt stopped.
 */
import { createHash } from 'node:crypto';
import { type ChannelKind, type DeliveryTarget, deliveryKey, type IncidentSnapshot } from '../domain/model.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type EmailEvent, type EmailTemplates, replySubject, subjectFor } from './email/render.js';
import {
  renderAcknowledgedReply,
  renderChangeReply,
  renderReminderReply,
  renderSlackPlain,
  renderSlackRoot,
  renderStaleReply,
} from './slack/blocks.js';
import type { MessageView } from '../render/view.js';
import { type DeliveryStore } from '../store/delivery-store.js';
import { appendEvent, type DeliveryLog, type IncidentFlags } from '../domain/delivery-log.js';
import {
  InvalidBlocksError,
  PermanentDeliveryError,
  RateLimitedError,
  TransientDeliveryError,
} from './errors.js';
import type { MailSender } from './email/sender.js';
import { type PlannedAction, toldStateOf } from '../domain/plan.js';
import {
  repliesIn,
  replyMetadata,
  rootMetadata,
  rootsIn,
  type SlackHistoryMessage,
  SlackLookupUnavailableError,
  type SlackMessage,
  type SlackSender,
  tsOf,
} from './slack/sender.js';

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
 * Sends once, recording the outcome. A send whose result cannot be known (a timeout or reset after the
 * request went out, or a crash) leaves `inFlight` set for the next attempt. A Slack message is looked up
 * before it is sent again (slackDeliverer), and only copies actually found count as duplicates; an email
 * has no such look-up, so its resend counts as a possible duplicate (DESIGN.md allows one per crash).
 * `channel` is the Slack channel id, when known, for that look-up.
 */
async function sendRecorded(
  run: DeliveryRun,
  deps: ChannelDeps,
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

/** A Slack channel's pace gate, and who is asking (a reservation is kept for it). */
interface SlackGateRef {
  channel: string;
  holder: string;
}

/** The history window opens this long before the first ambiguous attempt: Slack's clock against ours. */
const LOOKUP_CLOCK_SKEW_MS = 60_000;
/**
 * Slack commits a request it received within this long or never (its own request deadlines are far
 * shorter): the history window ends here, and so does the watch for late copies.
 */
const LATE_COMMIT_BOUND_MS = 10 * 60_000;
/** When to look again for a late copy after settling an ambiguous root. */
const LATE_COPY_RECHECK_MS = 5_000;
const LOOKUP_PAGE = 100;
/** 500 messages in one channel within the window is far beyond any alert channel's traffic. */
const LOOKUP_MAX_PAGES = 5;

function slackDeliverer(deps: ChannelDeps): Deliverer {
  const { slack, store, metrics, logger } = deps;
  const lookup = slack.lookup;
  if (lookup?.missingScopes?.length)
    logger.warn(
      { missingScopes: lookup.missingScopes },
      `the Slack token lacks ${lookup.missingScopes.join(', ')}: after a lost answer from Slack the relay cannot look for the root message it may have posted and posts it again (a possible duplicate); add the scopes to the Slack app (deploy/slack-app-manifest.yaml) and reinstall it`,
    );
  let lookupFailureWarned = false;
  /** A held-back job sleeps until the slot the gate reserved for its delivery (the holder), then goes. */
  const gate = async ({ channel, holder }: SlackGateRef) => {
    const wait = await store.acquireSlackGate(channel, deps.slackPaceMs, holder);
    if (wait > 0) throw new RateLimitedError(wait, 'pace');
  };
  /** Slack 429: block the channel for everyone until Retry-After has passed. */
  const call = async <T>(ref: SlackGateRef, run: () => Promise<T>): Promise<T> => {
    await gate(ref);
    try {
      return await run();
    } catch (error) {
      if (error instanceof RateLimitedError) await store.blockSlackGate(ref.channel, error.waitMs);
      throw error;
    }
  };
  /**
   * One pace gate per channel, named as configured: the first post addresses '#alerts-critical', later
   * updates and replies its id 'C0…'. Gating them under two names let them burst past Slack's limit.
   * The delivery holds the reservation: at most one of its jobs runs at a time (the delivery lock).
   */
  const gateOf = (r: DeliveryRun): SlackGateRef => ({
    channel: r.delivery.target,
    holder: deliveryKey(r.snapshot.incidentId, r.delivery.id),
  });
  const metadataOf = (r: DeliveryRun) => rootMetadata(r.snapshot.incidentId, r.delivery.id);
  const rootMessage = (r: DeliveryRun): SlackMessage => {
    const rendered = renderSlackRoot(r.view, { actions: deps.slackActions?.(r) });
    return {
      channel: r.delivery.target,
      text: rendered.text,
      attachments: rendered.attachments,
      metadata: metadataOf(r),
    };
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
      return send({
        channel: message.channel,
        text: renderSlackPlain(r.view),
        ...(message.metadata ? { metadata: message.metadata } : {}),
      });
    }
  };
  /**
   * What a reply says, the same on every retry of it: its metadata names it, so a retry can find it in the
   * thread. A change is named by the state it tells (a later state is a different reply).
   */
  const replyKeyOf = (r: DeliveryRun, action: PlannedAction): string => {
    switch (action.kind) {
      case 'change':
        return `change:${createHash('sha256')
          .update(JSON.stringify(toldStateOf(r.snapshot)))
          .digest('hex')
          .slice(0, 16)}`;
      case 'reminder':
        return `reminder:${action.number}`;
      case 'stale':
        return `stale:${action.lastSeenAt}`;
      case 'acknowledged':
        return `acknowledged:${action.at}`;
      case 'post':
        return 'post';
    }
  };

  /** Records a message found in Slack, whose answer was lost, as delivered (instead of sending it again). */
  const recordFound = (r: DeliveryRun, action: string, ts: string) => {
    delete r.log.inFlight;
    r.log.lastOutcome = 'delivered';
    appendEvent(r.log, { at: Date.now(), action, outcome: 'delivered', detail: `found ${ts} in Slack` });
    metrics.slackMessagesAdopted.inc({ kind: action === 'post' ? 'root' : 'reply' });
    metrics.deliveries.inc({ channel: 'slack', outcome: 'delivered' });
    if (action !== 'reminder')
      metrics.deliveryLatency.observe({ channel: 'slack' }, Math.max(0, Date.now() - r.acceptedAt) / 1000);
    logger.info(
      { incidentId: r.snapshot.incidentId, deliveryId: r.delivery.id, action, ts },
      'found the Slack message whose answer was lost; not sending it again',
    );
  };

  /**
   * A thread reply. When an earlier attempt of the same reply may have been delivered (its answer was lost,
   * or the relay died before recording it), the thread is searched for it by its metadata first.
   */
  const reply = async (r: DeliveryRun, action: PlannedAction, text: string, broadcast = false) => {
    const root = r.log.root as { channel: string; ts: string };
    const metadata = replyMetadata(r.snapshot.incidentId, r.delivery.id, replyKeyOf(r, action));
    const earlier = r.log.inFlight?.action === action.kind ? r.log.inFlight : undefined;
    if (earlier) {
      const found = await lookingUp(r, root.channel, async () => {
        const window = windowOf(earlier.since ?? earlier.at);
        const thread = await readAll(root.channel, (cursor) =>
          lookup!.replies({
            channel: root.channel,
            ts: root.ts,
            ...window,
            limit: LOOKUP_PAGE,
            ...(cursor ? { cursor } : {}),
          }),
        );
        return repliesIn(thread, metadata);
      });
      const [ts] = found ?? [];
      if (ts) {
        recordFound(r, action.kind, ts);
        return;
      }
    }
    await sendRecorded(r, deps, 'slack', action.kind, slack.preview, () =>
      call(gateOf(r), () =>
        slack.postMessage({
          channel: root.channel,
          text,
          thread_ts: root.ts,
          ...(broadcast ? { reply_broadcast: true } : {}),
          metadata,
        }),
      ).then(() => undefined),
    );
  };

  /** The history window around an attempt that may have been delivered. */
  const windowOf = (since: number) => ({
    oldest: tsOf(since - LOOKUP_CLOCK_SKEW_MS),
    latest: tsOf(since + LATE_COMMIT_BOUND_MS),
  });

  /**
   * Reads every page of a history or thread listing (bounded). The bot may post to a public channel without
   * being a member (chat:write.public) but must be one to read it: on not_in_channel it joins once
   * (channels:join) and reads again.
   */
  const readAll = async (
    channel: string,
    read: (cursor?: string) => Promise<{ messages: SlackHistoryMessage[]; nextCursor?: string }>,
  ): Promise<SlackHistoryMessage[]> => {
    const page = async (cursor?: string) => {
      try {
        return await read(cursor);
      } catch (error) {
        if (!(error instanceof SlackLookupUnavailableError && error.reason === 'not_in_channel')) throw error;
        await lookup!.join(channel).catch((joinError: Error) => {
          throw new SlackLookupUnavailableError(
            'not_in_channel',
            `the bot is not a member of ${channel} and could not join it: ${joinError.message}`,
          );
        });
        return read(cursor);
      }
    };
    const messages: SlackHistoryMessage[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < LOOKUP_MAX_PAGES; n++) {
      const result = await page(cursor);
      messages.push(...result.messages);
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    return messages;
  };

  /**
   * Runs a look-up; undefined when it cannot run (no look-up in preview; a missing scope or membership, an
   * unknown channel): warned once, counted, and never a reason to dead-letter (the caller sends as it did
   * before look-ups existed). Other failures (Slack down, 429) are thrown and retried like a failed send.
   */
  const lookingUp = async <T>(
    r: DeliveryRun,
    channel: string,
    run: () => Promise<T>,
  ): Promise<T | undefined> => {
    if (!lookup) return undefined;
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof SlackLookupUnavailableError)) throw error;
      metrics.slackLookupUnavailable.inc({ reason: error.reason });
      const fields = { incidentId: r.snapshot.incidentId, channel, reason: error.message };
      if (lookupFailureWarned) logger.info(fields, 'Slack look-up unavailable; sending');
      else
        logger.warn(
          {
            ...fields,
            scopes: ['channels:history', 'groups:history', 'channels:read', 'groups:read', 'channels:join'],
          },
          'Slack look-up unavailable: sending without it, which may duplicate a message whose answer was lost; grant the scopes (deploy/slack-app-manifest.yaml) or invite the bot to the channel',
        );
      lookupFailureWarned = true;
      return undefined;
    }
  };

  /**
   * This delivery's root messages posted from `since` on, oldest first, with the channel id.
   * conversations.history takes a channel id (a '#name' is channel_not_found), while the first post
   * addresses '#name'. The id comes from the in-flight record when the sender knew it then (Slack answered
   * an earlier post to that name in this process), else from the sender, which asks conversations.list
   * once per process.
   */
  const findRoots = (r: DeliveryRun, channel: string, since: number) =>
    lookingUp(r, channel, async () => {
      const id = await lookup!.channelId(channel);
      const window = windowOf(since);
      const history = await readAll(id, (cursor) =>
        lookup!.history({ channel: id, ...window, limit: LOOKUP_PAGE, ...(cursor ? { cursor } : {}) }),
      );
      return { channel: id, ts: rootsIn(history, metadataOf(r)) };
    });

  /** Deletes the copies of the root other than the recorded one; each found copy is one duplicate, counted once. */
  const deleteCopies = async (r: DeliveryRun, channel: string, copies: string[]) => {
    const watch = r.log.verifyRoot;
    for (const ts of copies) {
      if (ts === r.log.root?.ts) continue;
      if (!watch?.counted.includes(ts)) {
        metrics.duplicatePosts.inc({ channel: 'slack' });
        watch?.counted.push(ts);
      }
      const fields = {
        incidentId: r.snapshot.incidentId,
        deliveryId: r.delivery.id,
        channel,
        ts,
        root: r.log.root?.ts,
      };
      try {
        if (await lookup!.deleteMessage(channel, ts)) metrics.slackDuplicatesDeleted.inc();
        logger.warn(fields, 'deleted a copy of a Slack root message that Slack committed late');
      } catch (error) {
        // A copy that cannot be deleted is not worth a dead letter: it is counted, and said here.
        if (!(error instanceof PermanentDeliveryError)) throw error;
        logger.error({ ...fields, reason: error.message }, 'could not delete a duplicate Slack root message');
      }
    }
  };

  /** Another look for late copies after an ambiguous root; the last one once no copy can still appear. */
  const checkForLateCopies = async (r: DeliveryRun) => {
    const watch = r.log.verifyRoot;
    const root = r.log.root;
    if (!watch || !root?.ts || !root.channel) return;
    const found = await findRoots(r, root.channel, watch.since);
    if (found) await deleteCopies(r, found.channel, found.ts);
    if (!found || r.now > watch.until) delete r.log.verifyRoot;
    await r.save();
  };

  /**
   * A late copy appears only when Slack commits an earlier attempt after we looked: come back once, soon, to
   * look again (each later reconcile within the window looks too). The job waits in the delayed set without
   * spending an attempt (`lock` is the RateLimitedError reason not counted as a rate limit). Short, since a
   * webhook arriving meanwhile is absorbed into this job and waits with it.
   */
  const comeBackForLateCopies = (r: DeliveryRun): RateLimitedError => {
    logger.info(
      { incidentId: r.snapshot.incidentId, deliveryId: r.delivery.id, waitMs: LATE_COPY_RECHECK_MS },
      'Slack root settled after a lost answer; looking again for a late copy shortly',
    );
    return new RateLimitedError(LATE_COPY_RECHECK_MS, 'lock');
  };

  /** Brings the root up to date in place (chat.update), when what it shows has changed. */
  const syncRoot = async (r: DeliveryRun) => {
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
  };

  /**
   * The root post. When an earlier attempt may have been delivered (its answer was lost: a timeout or reset
   * after sending, or a crash before the ts was recorded), the channel's history is searched for a message
   * carrying this delivery's metadata first, and one found is adopted instead of posting again.
   */
  const postRoot = async (r: DeliveryRun, action: PlannedAction) => {
    const message = rootMessage(r);
    const earlier = r.log.inFlight?.action === 'post' ? r.log.inFlight : undefined;
    const since = earlier ? (earlier.since ?? earlier.at) : undefined;
    const found =
      earlier && since !== undefined
        ? await findRoots(r, earlier.channel ?? r.delivery.target, since)
        : undefined;
    if (found && since !== undefined)
      r.log.verifyRoot = { since, until: since + LATE_COMMIT_BOUND_MS, counted: [] };
    const [adopted] = found?.ts ?? [];
    if (found && adopted) {
      r.log.root = { channel: found.channel, ts: adopted, at: r.now };
      // What the copy shows is what was posted then: the sync below brings it up to date.
      delete r.log.renderedHash;
      recordFound(r, 'post', adopted);
      await deleteCopies(r, found.channel, found.ts);
      applyAction(r, action);
      await r.save();
      await syncRoot(r);
    } else {
      let posted: { channel: string; ts: string } | undefined;
      await sendRecorded(
        r,
        deps,
        'slack',
        'post',
        slack.preview,
        async () => {
          posted = await call(gateOf(r), () => withPlainFallback(r, message, (m) => slack.postMessage(m)));
        },
        { channel: lookup?.knownChannelId(r.delivery.target) },
      );
      // Stored before the job completes: a retry or another worker updates instead of posting again.
      r.log.root = { channel: posted!.channel, ts: posted!.ts, at: r.now };
      r.log.renderedHash = hashOf({ ...message, channel: posted!.channel });
      applyAction(r, action);
      await r.save();
    }
    if (r.log.verifyRoot) throw comeBackForLateCopies(r);
  };

  return {
    async sync(r) {
      await syncRoot(r);
      await checkForLateCopies(r);
    },
    async perform(r, action) {
      switch (action.kind) {
        case 'post':
          await postRoot(r, action);
          return;
        case 'change':
          await reply(r, action, renderChangeReply(action.change, r.view));
          break;
        case 'reminder':
          await reply(r, action, renderReminderReply(action.number, r.view), r.delivery.broadcastReminders);
          metrics.remindersSent.inc({ channel: 'slack' });
          break;
        case 'stale':
          await reply(r, action, renderStaleReply(action.lastSeenAt, r.now, action.alertmanager));
          break;
        case 'acknowledged':
          await reply(r, action, renderAcknowledgedReply(action.by, action.at, r.snapshot.startedAt));
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
  /**
   * What a mail says, as data: the event's kind and what it reports (the alert states for a first message
   * or a change, the reminder number, who acknowledged when), never its rendered text, which holds running
   * durations. Sorted, so the same state always reads the same.
   */
  const identityOf = (r: DeliveryRun, action: PlannedAction): unknown => {
    switch (action.kind) {
      case 'post':
      case 'change': {
        const told = toldStateOf(r.snapshot);
        return [action.kind, told.status, told.truncatedAlerts, Object.entries(told.alerts).sort()];
      }
      case 'reminder':
        return [action.kind, action.number];
      case 'stale':
        return [action.kind, action.lastSeenAt];
      case 'acknowledged':
        return [action.kind, action.by, action.at];
    }
  };
  /**
   * Unique per distinct content, stable per retry of the same content. A retry after a crash or an
   * ambiguous failure re-plans at the same place in the thread (the log never recorded the send): the same
   * event gets the same Message-ID, so mail systems collapse a copy that did arrive; a different one (the
   * retried first message now announcing the resolve) gets a new id, so no mail system drops it as a copy.
   * The hash covers the delivery too: two lists of one incident never share an id.
   */
  const messageIdOf = (r: DeliveryRun, action: PlannedAction) => {
    const content = createHash('sha256')
      .update(JSON.stringify([r.delivery.id, identityOf(r, action)]))
      .digest('hex')
      .slice(0, 16);
    return `<relay.${r.snapshot.incidentId}.${content}.${r.log.references.length}@${domain}>`;
  };
  const eventOf = (action: PlannedAction): EmailEvent => {
    switch (action.kind) {
      case 'post':
        return { kind: 'firing' };
      case 'change':
        return { kind: 'change', change: action.change };
      case 'reminder':
        return { kind: 'reminder', number: action.number };
      case 'stale':
        return action;
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
      const messageId = messageIdOf(r, action);
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
