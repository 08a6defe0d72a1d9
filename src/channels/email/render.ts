/**
 * Email rendering: multipart HTML + text from Handlebars templates (HTML auto-escaped), with a subject set
 * once per incident so mail clients keep one thread (DESIGN.md: they thread by References *and* subject).
 * Operators can point `templates_dir` at their own `email.html.hbs` and `email.txt.hbs`; both are compiled
 * at start, so a broken template stops the relay instead of the first alert.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { ConfigError } from '../../config/errors.js';
import type { ChangeSummary, PlannedAction } from '../../domain/plan.js';
import { colourOf } from '../../render/colours.js';
import { formatElapsed, formatTime } from '../../render/describe.js';
import { headlineOf, type MessageView } from '../../render/view.js';

export const DEFAULT_TEMPLATES_DIR = fileURLToPath(new URL('../../../templates/', import.meta.url));

/** What a mail reports: the planner's action itself (a first message is `post`). */
export type EmailEvent = PlannedAction;

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export interface EmailTemplates {
  render(
    view: MessageView,
    event: EmailEvent,
    options: {
      subject: string;
      now: number;
      ackUrl?: string | undefined;
      /** Preview without RELAY_ACK_SECRET: why the acknowledge link is inactive (shown instead of a link). */
      ackInactive?: string | undefined;
    },
  ): RenderedEmail;
}

/** Header values are single-line text: CR, LF and other controls would let a label value add headers. */
export function sanitizeHeader(value: string, limit = 200): string {
  const clean = value
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length > limit ? `${clean.slice(0, limit - 1)}…` : clean;
}

export function subjectFor(view: Pick<MessageView, 'severity' | 'title'>): string {
  return sanitizeHeader(`[${view.severity.toUpperCase()}] ${view.title}`);
}

export function replySubject(subject: string): string {
  return subject.startsWith('Re: ') ? subject : `Re: ${subject}`;
}

function names(alerts: ChangeSummary['joined']): string {
  return alerts
    .slice(0, 5)
    .map((a) => a.labels.vehicle_id ?? a.labels.instance ?? a.labels.alertname ?? a.fingerprint)
    .join(', ');
}

function describeEvent(event: EmailEvent, view: MessageView, now: number): { label: string; text: string } {
  switch (event.kind) {
    case 'post':
      return view.status === 'resolved'
        ? {
            label: 'Fired and resolved',
            text: `Fired at ${view.startedAt} and resolved after ${view.duration}.`,
          }
        : {
            label: 'New incident',
            // A destination an escalation added hears the story so far in its first mail.
            text: [`Firing since ${view.startedAt}.`, ...(view.notices ?? []).map((n) => `${n}.`)].join(' '),
          };
    case 'notice':
      return { label: event.notice.label, text: `${event.notice.text}.` };
    case 'change': {
      const c = event.change;
      if (c.incidentResolved) return { label: 'Resolved', text: `Resolved after ${view.duration}.` };
      const parts = [];
      if (c.joined.length) parts.push(`${c.joined.length} more firing (${names(c.joined)})`);
      if (c.resolved.length) parts.push(`${c.resolved.length} resolved (${names(c.resolved)})`);
      if (c.truncatedNow !== c.truncatedBefore)
        parts.push(`Alertmanager now leaves ${c.truncatedNow} alerts out`);
      return { label: 'Changed', text: `${parts.join('; ')}.` };
    }
    case 'reminder':
      return { label: `Reminder ${event.number}`, text: `Still firing after ${view.duration}.` };
    case 'stale': {
      const since = `since ${formatTime(event.lastSeenAt, view.timeZone, now)} (${formatElapsed(now - event.lastSeenAt)} ago)`;
      const am = event.alertmanager;
      if (am && !am.answered)
        return {
          label: 'Alertmanager unreachable',
          text: `Alertmanager at ${am.urls.join(', ')} cannot be reached, and it has not re-sent this group ${since}: the relay cannot tell whether the alerts still fire. Reminders stop until Alertmanager answers or re-sends the group; check that it is up and reachable from the relay.`,
        };
      if (am)
        return {
          label: 'Alerts unknown to Alertmanager',
          text: `Alertmanager at ${am.urls.join(', ')} answers but does not report these alerts, and Alertmanager has not re-sent this group ${since}. Either ALERTMANAGER_URL does not name the Alertmanagers that send them, or they restarted and have not heard from Prometheus yet. Reminders stop until the group is re-sent or reported.`,
        };
      return {
        label: 'No heartbeat',
        text: `Alertmanager has not re-sent this group ${since}. Either the alerts ended while silenced or inhibited (Alertmanager then sends no resolve), or Alertmanager or its route to the relay is down: look the group up in Alertmanager. Reminders stop until it re-sends.`,
      };
    }
    case 'acknowledged':
      return {
        label: 'Acknowledged',
        text: `Acknowledged by ${event.by} at ${formatTime(event.at, view.timeZone)}; reminders stop.`,
      };
  }
}

export function loadEmailTemplates(dir: string = DEFAULT_TEMPLATES_DIR): EmailTemplates {
  const read = (name: string) => {
    const path = join(dir, name);
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `templates_dir: email template ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      );
    }
  };
  const hbs = Handlebars.create();
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  const compile = (name: string, noEscape: boolean) => {
    const template = hbs.compile(read(name), { strict: false, noEscape });
    return template;
  };
  const html = compile('email.html.hbs', false);
  const text = compile('email.txt.hbs', true);
  // Render a sample now: syntax errors surface at compile time only when the template first runs.
  const sample: MessageView = {
    incidentId: 'sample',
    title: 'Sample',
    severity: 'critical',
    status: 'firing',
    counts: { firing: 1, resolved: 0 },
    alerts: [],
    overflow: 0,
    truncatedAlerts: 0,
    links: [],
    startedAt: '00:00 UTC',
    duration: '0m',
    assets: [],
    timeZone: 'UTC',
  };
  const templates: EmailTemplates = {
    render(view, event, options) {
      const data = {
        view,
        event: describeEvent(event, view, options.now),
        headline: headlineOf(view),
        subject: options.subject,
        colour: colourOf(view),
        statusLine:
          view.status === 'resolved'
            ? `Started ${view.startedAt}, resolved after ${view.duration}.`
            : `${view.counts.firing} firing${view.counts.resolved ? `, ${view.counts.resolved} resolved` : ''} · started ${view.startedAt} (${view.duration} ago)${view.escalation ? ` · ${view.escalation}` : ''}`,
        ackUrl: view.status === 'firing' ? options.ackUrl : undefined,
        ackInactive: view.status === 'firing' && !options.ackUrl ? options.ackInactive : undefined,
        // Resolved, there is nothing left to do: the first action and the phone numbers would only distract.
        firstAction: view.status === 'firing' ? view.firstAction : undefined,
        firedSummary: view.status === 'resolved' ? view.summary : undefined,
        summary: view.status === 'firing' ? view.summary : undefined,
      };
      return { subject: options.subject, html: html(data), text: text(data) };
    },
  };
  try {
    templates.render(sample, { kind: 'post' }, { subject: 'sample', now: 0 });
    templates.render(
      {
        ...sample,
        status: 'resolved',
        summary: 'Sample',
        timeline: 'Fired 00:00 UTC → resolved 1m later',
        firstAction: { text: 'Call', calls: [{ name: 'Driver', phone: '+1 555', tel: 'tel:+1555' }] },
        assets: [
          {
            title: 'TRK',
            status: 'firing',
            facts: ['fact'],
            driver: { name: 'D', phone: '1', tel: 'tel:1' },
          },
        ],
      },
      { kind: 'post' },
      { subject: 'sample', now: 0, ackInactive: 'sample' },
    );
  } catch (error) {
    throw new ConfigError(`templates_dir: email templates in ${dir}: ${(error as Error).message}`);
  }
  return templates;
}
