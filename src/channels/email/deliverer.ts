/**
 * The email deliverer: one thread per incident and delivery (Message-ID, In-Reply-To, References), each
 * event a new mail; Message-IDs derive from content so a retried send is collapsed by mail systems.
 */
import { createHash } from 'node:crypto';
import { type PlannedAction, toldStateOf } from '../../domain/plan.js';
import type { Metrics } from '../../observability/metrics.js';
import { applyAction, type Deliverer, type DeliveryRun, sendRecorded } from '../channel.js';
import { ackLink } from './ack-link.js';
import { type EmailTemplates, replySubject, subjectFor } from './render.js';
import type { MailSender } from './sender.js';

export interface EmailChannelDeps {
  mail: MailSender;
  templates: EmailTemplates;
  metrics: Metrics;
  emailFrom: string;
  /** Acknowledge links in emails, when RELAY_ACK_SECRET is set (PUBLIC_URL is the links' origin). */
  ackLinks?: { publicUrl: string; secret: string } | undefined;
  /** Preview without RELAY_ACK_SECRET: the link is shown as inactive, with this reason. */
  ackPreview?: string | undefined;
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
  return {
    async sync() {
      // An email cannot change once sent; changes are new mails in the thread.
    },
    async perform(r, action) {
      const first = action.kind === 'post';
      const subject = first ? subjectFor(r.view) : replySubject(r.log.root?.subject ?? subjectFor(r.view));
      const rendered = templates.render(r.view, action, {
        subject,
        now: r.now,
        ackUrl:
          deps.ackLinks &&
          ackLink(deps.ackLinks.publicUrl, deps.ackLinks.secret, r.snapshot, r.delivery.target, r.now),
        ackInactive: deps.ackPreview,
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
