/**
 * The Slack deliverer: one root message per incident and delivery, updated in place, with replies in its
 * thread; every call paced through the channel's gate, and a root whose answer was lost looked up before it
 * is posted again.
 */
import { createHash } from 'node:crypto';
import { appendEvent } from '../../domain/delivery-log.js';
import { deliveryKey } from '../../domain/model.js';
import { type PlannedAction, toldStateOf } from '../../domain/plan.js';
import { withMember } from '../../domain/storm.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { applyAction, type Deliverer, type DeliveryRun, sendRecorded } from '../channel.js';
import { decideFirstMessage, type EpisodeDeps, memberOf, recordOwnMessage } from '../episodes.js';
import { InvalidBlocksError, PermanentDeliveryError, RateLimitedError } from '../errors.js';
import { slackActionBlocks } from './actions.js';
import {
  renderAcknowledgedReply,
  renderChangeReply,
  renderNoticeReply,
  renderReminderReply,
  renderSlackPlain,
  renderSlackRoot,
  renderStaleReply,
} from './blocks.js';
import { flapBlock, flapReplyText } from './flap-lines.js';
import type { SlackPaceGate } from './pace-gate.js';
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
} from './sender.js';
import { refreshSlackDigest, showInSlackDigest } from './storm-digest.js';

export interface SlackChannelDeps {
  slack: SlackSender;
  paceGate: SlackPaceGate;
  metrics: Metrics;
  logger: Logger;
  slackPaceMs: number;
  /**
   * The firing message's buttons (acknowledge, and silence for these durations), when interactivity is on
   * (SLACK_SIGNING_SECRET); no silence buttons without ALERTMANAGER_URL.
   */
  buttons?: { silenceDurations: number[]; inactive?: string | undefined } | undefined;
  /** Storm digests and flap control (issue 14); without them every incident posts its own message. */
  episodes?: EpisodeDeps | undefined;
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

export function slackDeliverer(deps: SlackChannelDeps): Deliverer {
  const { slack, paceGate, metrics, logger } = deps;
  const lookup = slack.lookup;
  if (lookup?.missingScopes?.length)
    logger.warn(
      { missingScopes: lookup.missingScopes },
      `the Slack token lacks ${lookup.missingScopes.join(', ')}: after a lost answer from Slack the relay cannot look for the root message it may have posted and posts it again (a possible duplicate); add the scopes to the Slack app (deploy/slack-app-manifest.yaml) and reinstall it`,
    );
  let lookupFailureWarned = false;
  /** A held-back job sleeps until the slot the gate reserved for its delivery (the holder), then goes. */
  const gate = async ({ channel, holder }: SlackGateRef) => {
    const wait = await paceGate.acquire(channel, deps.slackPaceMs, holder);
    if (wait > 0) throw new RateLimitedError(wait, 'pace');
  };
  /** Slack 429: block the channel for everyone until Retry-After has passed. */
  const call = async <T>(ref: SlackGateRef, run: () => Promise<T>, slotHeld = false): Promise<T> => {
    if (!slotHeld) await gate(ref);
    try {
      return await run();
    } catch (error) {
      if (error instanceof RateLimitedError) await paceGate.block(ref.channel, error.waitMs);
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
    const rendered = renderSlackRoot(r.view, { actions: deps.buttons && slackActionBlocks(r, deps.buttons) });
    if (r.log.flap) flapBlock(rendered, r.log.flap, { timeZone: r.view.timeZone, now: r.now });
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
      case 'notice':
        return `notice:${action.notice.key}`;
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
    const root = r.log.root as { channel: string; ts: string; thread?: string };
    // A root that is itself a reply (in a storm digest's thread) has its replies in that thread.
    const threadTs = root.thread ?? root.ts;
    const metadata = replyMetadata(r.snapshot.incidentId, r.delivery.id, replyKeyOf(r, action));
    const earlier = r.log.inFlight?.action === action.kind ? r.log.inFlight : undefined;
    if (earlier) {
      const found = await lookingUp(r, root.channel, async () => {
        const window = windowOf(earlier.since ?? earlier.at);
        const thread = await readAll(root.channel, (cursor) =>
          lookup!.replies({
            channel: root.channel,
            ts: threadTs,
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
          thread_ts: threadTs,
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
  const findRoots = (r: DeliveryRun, channel: string, since: number, thread?: string) =>
    lookingUp(r, channel, async () => {
      const id = await lookup!.channelId(channel);
      const window = windowOf(since);
      if (thread) {
        // A storm member's root is a reply in the digest's thread, which history does not list.
        const replies = await readAll(id, (cursor) =>
          lookup!.replies({
            channel: id,
            ts: thread,
            ...window,
            limit: LOOKUP_PAGE,
            ...(cursor ? { cursor } : {}),
          }),
        );
        return { channel: id, ts: repliesIn(replies, metadataOf(r)) };
      }
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
    // A message a later flapping episode took over shows that episode now: this one leaves it alone.
    if (deps.episodes) {
      const anchor = r.log.flap?.anchor ?? r.snapshot.incidentId;
      const shown = await deps.episodes.flaps.ownerOf(r.snapshot.groupId, r.delivery.id, anchor);
      if (shown !== r.snapshot.incidentId) return;
    }
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
    if (deps.episodes) await decideFirstMessage(r, deps.episodes);
    if (r.log.flap) return reuseRoot(r, action);
    const thread = r.log.storm ? await showInDigest(r, r.log.storm) : undefined;
    // While a storm is open here, a first message's slot goes to the digest when it is not sent yet or
    // incidents joined it since: the digest makes the storm visible at once, the own messages follow.
    const storm =
      deps.episodes &&
      (r.log.storm ?? r.log.listed ?? (await deps.episodes.storms.openStorm(r.delivery.id, r.now)));
    if (storm && !r.log.storm && !r.log.listed) {
      // Still waiting when the storm began: the digest lists it too, until its own message is out and after.
      r.log.listed = storm;
      await r.save();
      await deps.episodes!.storms.updateDigest(r.delivery.id, storm, r.now, (d) =>
        withMember(d, memberOf(r)),
      );
    }
    if (storm && (await refreshSlackDigest(digestRef(r, storm), digestDeps!, () => gate(gateOf(r)))))
      throw new RateLimitedError(1, 'pace');
    const message = thread
      ? { ...rootMessage(r), channel: thread.channel, thread_ts: thread.ts }
      : rootMessage(r);
    const earlier = r.log.inFlight?.action === 'post' ? r.log.inFlight : undefined;
    const since = earlier ? (earlier.since ?? earlier.at) : undefined;
    const found =
      earlier && since !== undefined
        ? await findRoots(r, thread?.channel ?? earlier.channel ?? r.delivery.target, since, thread?.ts)
        : undefined;
    if (found && since !== undefined)
      r.log.verifyRoot = { since, until: since + LATE_COMMIT_BOUND_MS, counted: [] };
    const [adopted] = found?.ts ?? [];
    if (found && adopted) {
      r.log.root = {
        channel: found.channel,
        ts: adopted,
        at: r.now,
        ...(thread ? { thread: thread.ts } : {}),
      };
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
      r.log.root = {
        channel: posted!.channel,
        ts: posted!.ts,
        at: r.now,
        ...(thread ? { thread: thread.ts } : {}),
      };
      r.log.renderedHash = hashOf({ ...message, channel: posted!.channel });
      applyAction(r, action);
      await r.save();
      if (thread) metrics.stormFolded.inc({ channel: 'slack' });
    }
    if (deps.episodes && !thread)
      await recordOwnMessage(r, deps.episodes, { channel: r.log.root.channel, ts: r.log.root.ts });
    if (r.log.verifyRoot) throw comeBackForLateCopies(r);
  };

  const digestDeps = deps.episodes && { storms: deps.episodes.storms, slack, metrics, logger, call };
  const digestRef = (r: DeliveryRun, stormId: string) => ({
    deliveryId: r.delivery.id,
    target: r.delivery.target,
    stormId,
    now: r.now,
  });
  /** Shows the incident in its storm's digest (posting the digest first if nobody has). */
  const showInDigest = (r: DeliveryRun, stormId: string) =>
    showInSlackDigest(digestRef(r, stormId), memberOf(r), digestDeps!);

  /**
   * A flapping episode's first message: it takes over the earlier episode's root (chat.update, so the root
   * shows this episode and its counter) and says in its thread that the group fired again. In steps that a
   * retry resumes: the root is recorded first, `told` (the post's end, plan.ts) last.
   */
  const reuseRoot = async (r: DeliveryRun, action: PlannedAction) => {
    const flap = r.log.flap!;
    if (!r.log.root) {
      r.log.root = { channel: flap.message.channel, ts: flap.message.ts, at: r.now };
      delete r.log.renderedHash;
      await deps.episodes!.flaps.takeOver(
        r.snapshot.groupId,
        r.delivery.id,
        flap.anchor,
        r.snapshot.incidentId,
      );
      await r.save();
    }
    await syncRoot(r);
    await reply(
      r,
      action,
      flapReplyText(flap, r.snapshot.incidentId, { timeZone: r.view.timeZone, now: r.now }),
    );
    applyAction(r, action);
    await r.save();
    metrics.flapsShown.inc({ channel: 'slack' });
  };

  return {
    async sync(r) {
      await syncRoot(r);
      await checkForLateCopies(r);
      // Resolves and acknowledgements update the storm's digest too.
      const listedIn = r.log.storm ?? r.log.listed;
      if (listedIn && r.log.root && deps.episodes) await showInDigest(r, listedIn);
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
          await reply(
            r,
            action,
            renderStaleReply(action.lastSeenAt, r.now, action.alertmanager, r.view.timeZone),
          );
          break;
        case 'acknowledged':
          await reply(
            r,
            action,
            renderAcknowledgedReply(action.by, action.at, r.snapshot.startedAt, r.view.timeZone),
          );
          break;
        case 'notice':
          await reply(r, action, renderNoticeReply(action.notice));
          break;
      }
      applyAction(r, action);
      await r.save();
    },
  };
}
