/**
 * The Slack storm digest (issue 14, item 8): one message per storm, listing every incident folded into it
 * with severity, vehicle and state, updated in place as incidents join or change. The incidents' own
 * messages follow in its thread (README, "Storm digest"). Publishing is serialized per storm by a lock
 * and paced like every other call to the channel (one shared gate holder per digest, so whichever member's
 * job comes back at the reserved slot sends it); the digest record's `published.version` says what the
 * message shows, so a member's job is done once that covers its own change.
 */
import type { KnownBlock } from '@slack/types';
import {
  countStates,
  type DigestMember,
  isPublished,
  type StormDigest,
  withMember,
} from '../../domain/storm.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { colourOf } from '../../render/colours.js';
import type { StormStore } from '../../store/storm-store.js';
import { RateLimitedError } from '../errors.js';
import { escapeMrkdwn, SLACK_LIMITS, shorten } from './blocks.js';
import { rootsIn, type SlackMessage, type SlackMetadata, type SlackSender, tsOf } from './sender.js';

const STATE_MARK: Record<DigestMember['state'], string> = {
  firing: ':red_circle:',
  acknowledged: ':eyes:',
  resolved: ':white_check_mark:',
};
/** Room kept for the header, summary and context blocks within Slack's block text budget. */
const LIST_BUDGET = SLACK_LIMITS.blocksTotal - 1000;
const MAX_LINE = 300;
/** Look for a digest whose answer was lost from this long before its attempt (Slack's clock against ours). */
const LOOKUP_SKEW_MS = 60_000;
/** A member waits this long for a digest another job is publishing. */
const BUSY_WAIT_MS = 300;

export function stormMetadata(stormId: string): SlackMetadata {
  return { event_type: 'relay_storm', event_payload: { storm_id: stormId } };
}

export function digestLine(m: DigestMember): string {
  const e = escapeMrkdwn;
  const vehicle = m.vehicle ? ` · ${e(m.vehicle)}` : '';
  return shorten(
    `${STATE_MARK[m.state]} *${e(m.severity)}*${vehicle} · ${e(m.title)} · _${m.state}_`,
    MAX_LINE,
  );
}

/** The digest as Slack shows it: header, counts, one line per incident, and where their messages are. */
export function renderSlackDigest(digest: StormDigest): { text: string; attachments: unknown[] } {
  const counts = countStates(digest.members);
  const total = digest.members.length;
  const open = counts.firing + counts.acknowledged;
  const worst = digest.members.some((m) => m.severity === 'critical')
    ? 'critical'
    : (digest.members[0]?.severity ?? 'warning');
  const headline = `⛈️ Storm: ${total} new incident${total === 1 ? '' : 's'} at once`;
  const summary = `${counts.firing} firing · ${counts.acknowledged} acknowledged · ${counts.resolved} resolved`;
  const lines: string[] = [];
  let used = 0;
  for (const m of digest.members) {
    const line = digestLine(m);
    if (used + line.length + 1 > LIST_BUDGET) break;
    lines.push(line);
    used += line.length + 1;
  }
  if (lines.length < total) lines.push(`…and ${total - lines.length} more (each in this thread)`);
  const list: KnownBlock[] = [];
  let current = '';
  for (const line of lines) {
    if (current && current.length + line.length + 1 > SLACK_LIMITS.section) {
      list.push({ type: 'section', text: { type: 'mrkdwn', text: current } });
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) list.push({ type: 'section', text: { type: 'mrkdwn', text: current } });
  const blocks: KnownBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: shorten(headline, SLACK_LIMITS.header), emoji: true },
    },
    { type: 'section', text: { type: 'mrkdwn', text: `*${summary}*` } },
    ...list.slice(0, SLACK_LIMITS.blocks - 3),
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `More new incidents than this channel's pace lets through at once: all are listed here and kept up to date. Each one's own message (acknowledge, silence, updates) follows, in this thread or, for those already on their way, in the channel. storm \`${digest.id}\``,
        },
      ],
    },
  ];
  const text = `${headline}: ${summary}`;
  return {
    text,
    attachments: [
      { color: colourOf({ status: open ? 'firing' : 'resolved', severity: worst }), blocks, fallback: text },
    ],
  };
}

export interface SlackDigestDeps {
  storms: StormStore;
  slack: SlackSender;
  metrics: Metrics;
  logger: Logger;
  /**
   * Runs a Slack call through the channel's pace gate for `holder` (throws RateLimitedError to wait), or at
   * once when the caller already holds a slot (`slotHeld`).
   */
  call<T>(ref: { channel: string; holder: string }, run: () => Promise<T>, slotHeld?: boolean): Promise<T>;
}

export interface SlackDigestRef {
  /** The delivery id (the destination) and its Slack channel as configured. */
  deliveryId: string;
  target: string;
  stormId: string;
  now: number;
}

/**
 * Adds or updates `member` in the storm's digest and returns once the digest message shows it (posting the
 * digest if nobody has yet); the digest's channel id and ts, where the member's own message follows.
 * Throws RateLimitedError when the job must come back: another job is publishing, or the pace says wait.
 */
export async function showInSlackDigest(
  ref: SlackDigestRef,
  member: DigestMember,
  deps: SlackDigestDeps,
): Promise<{ channel: string; ts: string }> {
  const digest = await deps.storms.updateDigest(ref.deliveryId, ref.stormId, ref.now, (d) =>
    withMember(d, member),
  );
  const shown = isPublished(digest, digest.version)
    ? digest
    : (await publish(ref, digest.version, deps)).digest;
  return { channel: shown.published!.channel!, ts: shown.published!.ts! };
}

/**
 * Spends a slot the caller holds on the digest when it is not sent yet or incidents joined it since (true):
 * the digest is what makes a storm visible, so it does not queue behind own messages that reserved their
 * slots before the storm began (the first `threshold` incidents) or before those incidents joined.
 */
export async function refreshSlackDigest(
  ref: SlackDigestRef,
  deps: SlackDigestDeps,
  takeSlot: () => Promise<void>,
): Promise<boolean> {
  const digest = await deps.storms.loadDigest(ref.deliveryId, ref.stormId);
  if (!digest?.members.length || isPublished(digest, digest.version)) return false;
  try {
    return (await publish(ref, digest.version, deps, takeSlot)).sent;
  } catch (error) {
    // Another job is sending it: this slot goes to the member's own message after all.
    if (error instanceof RateLimitedError && error.reason === 'lock') return false;
    throw error;
  }
}

/**
 * Sends the digest as it stands, under its lock, unless it already shows `version`. `takeSlot`, when given,
 * takes the caller's own slot right before the send (everything else is read before it): a call that
 * leaves late after its slot lets the next one arrive less than a pace after it, which Slack answers 429.
 */
async function publish(
  ref: SlackDigestRef,
  version: number,
  deps: SlackDigestDeps,
  takeSlot?: () => Promise<void>,
): Promise<{ digest: StormDigest; sent: boolean }> {
  const lock = await deps.storms.lockDigest(ref.deliveryId, ref.stormId);
  if (!lock) throw new RateLimitedError(BUSY_WAIT_MS, 'lock');
  try {
    const digest = await deps.storms.loadDigest(ref.deliveryId, ref.stormId);
    if (!digest) throw new Error(`storm digest ${ref.stormId} vanished from Redis`);
    if (isPublished(digest, version)) return { digest, sent: false };
    const slotHeld = takeSlot !== undefined;
    if (takeSlot) await takeSlot();
    const gate = { channel: ref.target, holder: `storm-${ref.stormId}` };
    const message = renderSlackDigest(digest);
    const published = digest.published;
    let at: { channel: string; ts: string };
    if (published?.ts && published.channel) {
      at = { channel: published.channel, ts: published.ts };
      await deps.call(
        gate,
        () => deps.slack.update({ ...message, channel: at.channel, ts: at.ts }),
        slotHeld,
      );
    } else {
      at =
        (await findLostDigest(ref, digest, deps)) ??
        (await postDigest(ref, gate, digest, message, deps, slotHeld));
      if (!published) deps.metrics.stormDigests.inc({ channel: 'slack' });
    }
    const updated = await deps.storms.updateDigest(ref.deliveryId, ref.stormId, ref.now, (d) => {
      const { inFlight: _sent, ...rest } = d;
      return {
        ...rest,
        published: {
          version: Math.max(d.published?.version ?? 0, digest.version),
          channel: at.channel,
          ts: at.ts,
        },
      };
    });
    return { digest: updated, sent: true };
  } finally {
    await lock.release().catch(() => undefined);
  }
}

async function postDigest(
  ref: SlackDigestRef,
  gate: { channel: string; holder: string },
  digest: StormDigest,
  message: { text: string; attachments: unknown[] },
  deps: SlackDigestDeps,
  slotHeld: boolean,
): Promise<{ channel: string; ts: string }> {
  const post: SlackMessage = { channel: ref.target, ...message, metadata: stormMetadata(ref.stormId) };
  return deps.call(
    gate,
    async () => {
      // Written before the send: if its answer is lost, the next attempt looks for it instead of posting twice.
      await deps.storms.updateDigest(ref.deliveryId, ref.stormId, ref.now, (d) =>
        d.inFlight ? d : { ...d, inFlight: { at: ref.now } },
      );
      deps.logger.info({ storm: ref.stormId, members: digest.members.length }, 'posting a storm digest');
      return deps.slack.postMessage(post);
    },
    slotHeld,
  );
}

/** A digest post whose answer was lost (a timeout after sending, a crash): find it by its metadata. */
async function findLostDigest(
  ref: SlackDigestRef,
  digest: StormDigest,
  deps: SlackDigestDeps,
): Promise<{ channel: string; ts: string } | undefined> {
  const lookup = deps.slack.lookup;
  if (!digest.inFlight || !lookup) return undefined;
  try {
    const channel = await lookup.channelId(ref.target);
    const page = await lookup.history({
      channel,
      oldest: tsOf(digest.inFlight.at - LOOKUP_SKEW_MS),
      latest: tsOf(digest.inFlight.at + 10 * 60_000),
      limit: 200,
    });
    const [ts] = rootsIn(page.messages, stormMetadata(ref.stormId));
    if (!ts) return undefined;
    deps.metrics.slackMessagesAdopted.inc({ kind: 'root' });
    return { channel, ts };
  } catch (error) {
    deps.logger.warn(
      { storm: ref.stormId, reason: (error as Error).message },
      'could not look for a storm digest whose answer was lost; posting it',
    );
    return undefined;
  }
}
