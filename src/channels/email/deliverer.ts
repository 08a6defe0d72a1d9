/**
 * The email deliverer: one thread per incident and delivery (Message-ID, In-Reply-To, References), each
 * event a new mail; Message-IDs derive from content so a retried send is collapsed by mail systems.
 */
import { createHash } from 'node:crypto';
import { appendEvent } from '../../domain/delivery-log.js';
import { type PlannedAction, toldStateOf } from '../../domain/plan.js';
import type { Metrics } from '../../observability/metrics.js';
import { applyAction, type Deliverer, type DeliveryRun, sendRecorded } from '../channel.js';
import { decideFirstMessage, type EpisodeDeps, memberOf, recordOwnMessage } from '../episodes.js';
import { ackLink } from './ack-link.js';
import { type EmailTemplates, replySubject, subjectFor } from './render.js';
import type { MailSender } from './sender.js';
import { showInEmailDigest, withFlapLine } from './storm-digest.js';

export interface EmailChannelDeps {
  mail: MailSender;
  templates: EmailTemplates;
  metrics: Metrics;
  emailFrom: string;
  /** Acknowledge links in emails, when RELAY_ACK_SECRET is set (PUBLIC_URL is the links' origin). */
  ackLinks?: { publicUrl: string; secret: string } | undefined;
  /** Preview without RELAY_ACK_SECRET: the link is shown as inactive, with this reason. */
  ackPreview?: string | undefined;
  /** Storm digests and flap control (issue 14); without them every incident mails on its own. */
  episodes?: EpisodeDeps | undefined;
}

export function emailDeliverer(deps: EmailChannelDeps): Deliverer {
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
      case 'notice':
        return [action.kind, action.notice.key];
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
  /**
   * A storm member's first mail and its changes are told by the storm's digest mails (its reminders,
   * acknowledgements and staleness still mail on their own, in the digest's thread).
   */
  const foldIntoDigest = async (r: DeliveryRun, action: PlannedAction, stormId: string) => {
    const published = await showInEmailDigest(
      {
        deliveryId: r.delivery.id,
        target: r.delivery.target,
        stormId,
        now: r.now,
        windowMs: deps.episodes!.routePolicy(r.delivery.route).storm.windowMs,
      },
      memberOf(r),
      { storms: deps.episodes!.storms, mail, metrics, emailFrom: deps.emailFrom, domain },
    );
    if (action.kind === 'post') {
      r.log.root = { messageId: published.messageId, subject: published.subject, at: r.now };
      r.log.references = [published.messageId!];
      metrics.stormFolded.inc({ channel: 'email' });
    }
    const outcome = mail.preview ? 'previewed' : 'delivered';
    r.log.lastOutcome = outcome;
    appendEvent(r.log, {
      at: Date.now(),
      action: action.kind,
      outcome,
      detail: `told by storm digest ${stormId}`,
    });
    metrics.deliveries.inc({ channel: 'email', outcome });
    applyAction(r, action);
    await r.save();
  };
  return {
    async sync() {
      // An email cannot change once sent; changes are new mails in the thread.
    },
    async perform(r, action) {
      if (action.kind === 'post' && deps.episodes) await decideFirstMessage(r, deps.episodes);
      if (r.log.storm && (action.kind === 'post' || action.kind === 'change'))
        return foldIntoDigest(r, action, r.log.storm);
      const first = action.kind === 'post';
      // A flapping episode's first mail goes into the thread of the episode it reuses.
      const flap = first ? r.log.flap : undefined;
      const subject = flap?.message.subject
        ? replySubject(flap.message.subject)
        : first
          ? subjectFor(r.view)
          : replySubject(r.log.root?.subject ?? subjectFor(r.view));
      const rendered = templates.render(r.view, action, {
        subject,
        now: r.now,
        ackUrl:
          deps.ackLinks &&
          ackLink(deps.ackLinks.publicUrl, deps.ackLinks.secret, r.snapshot, r.delivery.target, r.now),
        ackInactive: deps.ackPreview,
      });
      const body = flap ? withFlapLine(rendered, flap, { timeZone: r.view.timeZone, now: r.now }) : rendered;
      const messageId = messageIdOf(r, action);
      const references = flap ? [...(flap.message.references ?? [])] : [...r.log.references];
      await sendRecorded(r, deps, 'email', action.kind, mail.preview, () =>
        mail.send({
          from: deps.emailFrom,
          to: r.delivery.target.split(','),
          subject: rendered.subject,
          text: body.text,
          html: body.html,
          messageId,
          ...(references.length ? { inReplyTo: references.at(-1), references } : {}),
          headers: { 'X-Relay-Incident': r.snapshot.incidentId, 'Auto-Submitted': 'auto-generated' },
        }),
      );
      if (flap) {
        r.log.root = { messageId: flap.message.messageId, subject: flap.message.subject, at: r.now };
        r.log.references = [...references, messageId];
        metrics.flapsShown.inc({ channel: 'email' });
      } else {
        if (first) r.log.root = { messageId, subject, at: r.now };
        r.log.references.push(messageId);
        if (first && deps.episodes)
          await recordOwnMessage(r, deps.episodes, { messageId, subject, references: [messageId] });
      }
      if (action.kind === 'reminder') metrics.remindersSent.inc({ channel: 'email' });
      applyAction(r, action);
      await r.save();
    },
  };
}
