/**
 * MailSender: SMTP through a pooled nodemailer transport, or the outbox (.eml files) in preview mode.
 * SMTP 5xx is permanent, 4xx and connection trouble transient.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import { PermanentDeliveryError, TransientDeliveryError } from './errors.js';

export interface OutgoingMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  messageId: string;
  inReplyTo?: string;
  references?: string[];
  headers?: Record<string, string>;
}

export interface MailSender {
  readonly preview: boolean;
  send(mail: OutgoingMail): Promise<void>;
  verify(): Promise<string>;
  close(): void;
}

export function classifySmtpError(error: unknown): Error {
  const e = error as { responseCode?: number; code?: string; message?: string };
  if (typeof e.responseCode === 'number') {
    const message = `SMTP ${e.responseCode}: ${(e.message ?? '').slice(0, 200)}`;
    return e.responseCode >= 500 ? new PermanentDeliveryError(message) : new TransientDeliveryError(message);
  }
  if (e.code === 'EAUTH') return new PermanentDeliveryError(`SMTP authentication failed: ${e.message ?? ''}`);
  // A connection lost mid-DATA may or may not have delivered: ambiguous.
  return new TransientDeliveryError(
    `SMTP unreachable: ${e.code ?? ''} ${e.message ?? String(error)}`.trim(),
    e.code !== 'ECONNECTION',
  );
}

export class SmtpMailSender implements MailSender {
  readonly preview = false;
  private readonly transport: Transporter;

  constructor(url: string, timeoutMs: number) {
    // Timeouts stay well under the job lock, so a hung server fails the attempt instead of stalling the job.
    this.transport = nodemailer.createTransport(
      url.includes('pool=') ? url : `${url}${url.includes('?') ? '&' : '?'}pool=true`,
      {
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: timeoutMs,
      } as never,
    );
  }

  async send(mail: OutgoingMail): Promise<void> {
    try {
      await this.transport.sendMail(mail);
    } catch (error) {
      throw classifySmtpError(error);
    }
  }

  async verify(): Promise<string> {
    try {
      await this.transport.verify();
      return 'SMTP server answered';
    } catch (error) {
      throw classifySmtpError(error);
    }
  }

  close(): void {
    this.transport.close();
  }
}

/** Preview mode: each mail becomes an .eml file, built by nodemailer exactly as it would be sent. */
export class OutboxMailSender implements MailSender {
  readonly preview = true;
  private readonly dir: string;
  private readonly transport = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'unix',
  });
  private counter = 0;

  constructor(outboxDir: string) {
    this.dir = join(outboxDir, 'email');
    mkdirSync(this.dir, { recursive: true });
  }

  async send(mail: OutgoingMail): Promise<void> {
    const info = (await this.transport.sendMail(mail)) as { message: Buffer };
    this.counter += 1;
    writeFileSync(
      join(this.dir, `${Date.now()}-${process.pid}-${String(this.counter).padStart(5, '0')}.eml`),
      info.message,
    );
  }

  async verify(): Promise<string> {
    return `preview: writing mail to ${this.dir}`;
  }

  close(): void {}
}
