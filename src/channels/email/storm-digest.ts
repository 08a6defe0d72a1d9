/**
 * Email storm digests and flap lines (issue 14). A storm sends one digest mail per destination instead of a
 * mail per incident past the threshold; what changes afterwards (incidents joining late, resolves,
 * acknowledgements) is told in that digest's thread, one update mail per publishing run listing only what
 * changed since the last mail, never one mail per incident. The first digest mail waits a short gathering
 * time after the storm opened, so the incidents of one burst share it.
 */
import { createHash } from 'node:crypto';
import { type FlapShown, flapCounter } from '../../domain/flapping.js';
import {
  changedSince,
  countStates,
  type DigestMember,
  type DigestPublished,
  isPublished,
  type MemberState,
  type StormDigest,
  withMember,
} from '../../domain/storm.js';
import type { Metrics } from '../../observability/metrics.js';
import type { StormStore } from '../../store/storm-store.js';
import { settledText } from '../episodes.js';
import { RateLimitedError } from '../errors.js';
import { replySubject, sanitizeHeader } from './render.js';
import type { MailSender } from './sender.js';

/** How long a new storm gathers incidents before its digest mail goes (at most the storm's window). */
export const EMAIL_GATHER_MS = 2000;
const BUSY_WAIT_MS = 300;

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function memberLine(m: DigestMember): string {
  return `${m.severity} · ${m.vehicle ?? 'no vehicle'} · ${m.title} — ${m.state}`;
}

export function digestSubject(target: string, openedAt: number): string {
  return sanitizeHeader(`[STORM] New incidents at once for ${target} since ${settledText(openedAt)}`);
}

/** The first digest mail (`changes` undefined) or an update in its thread (only what changed). */
export function renderDigestMail(
  digest: StormDigest,
  changes?: DigestMember[],
): { text: string; html: string } {
  const counts = countStates(digest.members);
  const summary = `${digest.members.length} incidents: ${counts.firing} firing, ${counts.acknowledged} acknowledged, ${counts.resolved} resolved`;
  const listed = changes ?? digest.members;
  const intro = changes
    ? `Storm update — ${summary}. Changed since the last mail:`
    : `Too many new incidents arrived at once for one mail each. ${summary}:`;
  const footer = changes
    ? ''
    : 'Later changes to these incidents (resolves, new ones) are told in this thread, not one mail each.';
  const text = [intro, '', ...listed.map((m) => `- ${memberLine(m)}`), '', footer, `storm ${digest.id}`]
    .filter((line, i, all) => line !== '' || all[i - 1] !== '')
    .join('\n');
  const html = `<!doctype html><html><body><p>${escapeHtml(intro)}</p><ul>${listed
    .map((m) => `<li>${escapeHtml(memberLine(m))}</li>`)
    .join(
      '',
    )}</ul>${footer ? `<p>${escapeHtml(footer)}</p>` : ''}<p style="color:#888">storm ${escapeHtml(digest.id)}</p></body></html>`;
  return { text, html };
}

export interface EmailDigestDeps {
  storms: StormStore;
  mail: MailSender;
  metrics: Metrics;
  emailFrom: string;
  domain: string;
}

export interface EmailDigestRef {
  deliveryId: string;
  /** Comma-separated addresses, as the delivery's target. */
  target: string;
  stormId: string;
  now: number;
  /** The storm's window: the gathering time never exceeds it. */
  windowMs: number;
}

/**
 * Adds or updates `member` in the digest and returns once a mail told it; the digest thread's first
 * Message-ID and subject. Throws RateLimitedError when the job must come back (gathering, or another job
 * is sending).
 */
export async function showInEmailDigest(
  ref: EmailDigestRef,
  member: DigestMember,
  deps: EmailDigestDeps,
): Promise<DigestPublished> {
  const digest = await deps.storms.updateDigest(ref.deliveryId, ref.stormId, ref.now, (d) =>
    withMember(d, member),
  );
  const shown = isPublished(digest, digest.version) ? digest : await publish(ref, digest.version, deps);
  return shown.published!;
}

async function publish(ref: EmailDigestRef, version: number, deps: EmailDigestDeps): Promise<StormDigest> {
  const lock = await deps.storms.lockDigest(ref.deliveryId, ref.stormId);
  if (!lock) throw new RateLimitedError(BUSY_WAIT_MS, 'lock');
  try {
    const digest = await deps.storms.loadDigest(ref.deliveryId, ref.stormId);
    if (!digest) throw new Error(`storm digest ${ref.stormId} vanished from Redis`);
    if (isPublished(digest, version)) return digest;
    const published = digest.published;
    const gatherUntil = digest.openedAt + Math.min(EMAIL_GATHER_MS, ref.windowMs);
    if (!published && ref.now < gatherUntil) throw new RateLimitedError(gatherUntil - ref.now, 'lock');
    const changes = published ? changedSince(digest.members, published.told) : undefined;
    const references = published?.references ?? [];
    const told: Record<string, MemberState> = Object.fromEntries(
      digest.members.map((m) => [m.incidentId, m.state]),
    );
    if (!changes || changes.length > 0) {
      // Stable per storm and place in its thread: a retried send reuses the id, and mail systems drop the copy.
      const hash = createHash('sha256')
        .update(JSON.stringify([ref.deliveryId, ref.stormId]))
        .digest('hex')
        .slice(0, 12);
      const messageId = `<relay.storm.${hash}.${references.length}@${deps.domain}>`;
      const subject = published?.subject ?? digestSubject(ref.target, digest.openedAt);
      const body = renderDigestMail(digest, changes);
      await deps.mail.send({
        from: deps.emailFrom,
        to: ref.target.split(','),
        subject: published ? replySubject(subject) : subject,
        ...body,
        messageId,
        ...(references.length ? { inReplyTo: references.at(-1), references } : {}),
        headers: { 'X-Relay-Storm': ref.stormId, 'Auto-Submitted': 'auto-generated' },
      });
      if (!published) deps.metrics.stormDigests.inc({ channel: 'email' });
      references.push(messageId);
    }
    const first = references[0]!;
    const subject = published?.subject ?? digestSubject(ref.target, digest.openedAt);
    return await deps.storms.updateDigest(ref.deliveryId, ref.stormId, ref.now, (d) => ({
      ...d,
      published: {
        version: Math.max(d.published?.version ?? 0, digest.version),
        messageId: first,
        subject,
        references,
        told,
      },
    }));
  } finally {
    await lock.release().catch(() => undefined);
  }
}

/** The flapping counter on a mail: first in the text, first in the HTML body. */
export function withFlapLine(
  rendered: { text: string; html: string },
  flap: FlapShown,
  clock?: { timeZone?: string | undefined; now: number },
): { text: string; html: string } {
  const settled =
    flap.lastSettledAt !== undefined
      ? ` · last settled at ${settledText(flap.lastSettledAt, clock?.timeZone, clock?.now)}`
      : '';
  const line = `Fired again — ${flapCounter(flap)}${settled}. Shown in this thread, not as a new one.`;
  const paragraph = `<p><strong>${escapeHtml(line)}</strong></p>`;
  const html = /<body[^>]*>/i.test(rendered.html)
    ? rendered.html.replace(/<body[^>]*>/i, (body) => `${body}${paragraph}`)
    : `${paragraph}${rendered.html}`;
  return { text: `${line}\n\n${rendered.text}`, html };
}
