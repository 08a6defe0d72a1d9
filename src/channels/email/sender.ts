/**
 * MailSender: SMTP, one connection per mail, or the outbox (.eml files) in preview mode.
 * SMTP 5xx is permanent, 4xx and connection trouble transient; only a failure after the message went out
 * is ambiguous (DESIGN.md §What "nothing lost" means: a resend may duplicate, and is counted).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import { parseConnectionUrl } from 'nodemailer/lib/shared/index.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { PermanentDeliveryError, TransientDeliveryError } from '../errors.js';

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

/**
 * How far a send got: 'connect' (connection, greeting, TLS, login), 'envelope' (MAIL FROM, RCPT TO, DATA),
 * 'message' (the server said 354 and the message is on its way: only now may a failure have delivered it).
 */
export type SmtpPhase = 'connect' | 'envelope' | 'message';

export function classifySmtpError(error: unknown, phase: SmtpPhase): Error {
  const e = error as { responseCode?: number; code?: string; originalCode?: string; message?: string };
  const reason = (e.message ?? String(error)).slice(0, 200);
  // A reply is an answer: the server took responsibility for the message or it did not, whatever the phase.
  if (typeof e.responseCode === 'number') {
    const message = `SMTP ${e.responseCode}: ${reason}`;
    return e.responseCode >= 500 ? new PermanentDeliveryError(message) : new TransientDeliveryError(message);
  }
  if (e.code === 'EAUTH') return new PermanentDeliveryError(`SMTP authentication failed: ${reason}`);
  // Refused by nodemailer itself (no recipients, larger than the server's SIZE): a resend fails the same way.
  if (e.code === 'EENVELOPE' || e.code === 'EMESSAGE')
    return new PermanentDeliveryError(`SMTP message refused: ${reason}`);
  const code = e.originalCode ?? e.code ?? '';
  if (phase === 'message') {
    return new TransientDeliveryError(
      `SMTP send interrupted after the message went out, without the server's answer (it may have been delivered): ${code} ${reason}`.trim(),
      true,
    );
  }
  const where = phase === 'connect' ? 'SMTP unreachable' : 'SMTP failed before the message went out';
  return new TransientDeliveryError(`${where}: ${code} ${reason}`.trim());
}

/**
 * One connection per mail rather than nodemailer's pool: each send owns its socket, so the whole-send
 * deadline can destroy exactly that connection, a hung server holds no pooled slot that later mails queue
 * behind, and the sender knows which phase a failure happened in (the pool hides it). Alert mail is a few
 * messages per incident transition, so the extra handshake costs nothing that matters.
 *
 * Timeouts: connecting (DNS included), the greeting and every later silence are each bounded by
 * `timeoutMs` (policy `smtp_timeout`); a whole send, connect to final reply, by twice that, so a server
 * that answers each step just in time still cannot hold a worker for longer.
 */
export class SmtpMailSender implements MailSender {
  readonly preview = false;
  private readonly options: SMTPConnection.Options;
  private readonly auth: { user: string; pass: string } | undefined;
  /** Builds the message exactly as nodemailer's SMTP transport would, without sending it. */
  private readonly composer = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'windows',
  });
  readonly deadlineMs: number;

  constructor(url: string, timeoutMs: number) {
    // nodemailer's own URL parser, so smtps://, credentials and ?query options mean what they always meant.
    // (A pool=true left in SMTP_URL no longer matters: each mail has its own connection.)
    const { auth, ...options } = parseConnectionUrl(url) as SMTPConnection.Options & {
      auth?: { user?: string; pass?: string };
    };
    this.auth = auth?.user ? { user: auth.user, pass: auth.pass ?? '' } : undefined;
    this.options = {
      ...options,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      dnsTimeout: timeoutMs,
      // Closing destroys the socket: a server that stopped answering gets no grace period to linger in.
      socketCloseTimeout: 0,
    } as SMTPConnection.Options;
    this.deadlineMs = 2 * timeoutMs;
  }

  async send(mail: OutgoingMail): Promise<void> {
    const composed = (await this.composer.sendMail(mail)) as unknown as {
      envelope: { from: string | false; to: string[] };
      message: Buffer;
    };
    const envelope = { ...composed.envelope, size: composed.message.length };
    let phase: SmtpPhase = 'connect';
    // SMTPConnection pipes the message only after the server's 354: the first read marks that moment.
    const message = new Readable({
      read() {
        phase = 'message';
        this.push(composed.message);
        this.push(null);
      },
    });
    await this.session(
      (connection, done) => {
        phase = 'envelope';
        connection.send(envelope, message, (error) => done(error ?? undefined));
      },
      () => phase,
    );
  }

  async verify(): Promise<string> {
    await this.session(
      (_connection, done) => done(),
      () => 'connect',
    );
    return 'SMTP server answered';
  }

  close(): void {
    // Nothing pooled to close: every connection ends with its send.
  }

  /**
   * Connects, logs in when the URL has credentials and the server offers AUTH, runs `work`, and always
   * closes. Settles once: the first of work's outcome, a connection error, or the deadline.
   */
  private session(
    work: (connection: SMTPConnection, done: (error?: unknown) => void) => void,
    phaseOf: () => SmtpPhase,
  ): Promise<void> {
    const connection = new SMTPConnection(this.options);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        connection.close();
        if (error === undefined) resolve();
        else reject(classifySmtpError(error, phaseOf()));
      };
      const deadline = setTimeout(
        () =>
          finish(
            Object.assign(new Error(`no final answer within the ${this.deadlineMs} ms send deadline`), {
              code: 'EDEADLINE',
            }),
          ),
        this.deadlineMs,
      );
      // Kept for the connection's lifetime: an 'error' event without a listener would crash the process.
      connection.on('error', (error) => finish(error));
      connection.connect((error) => {
        if (error) return finish(error);
        const start = () => work(connection, finish);
        const offersAuth = (connection as unknown as { allowsAuth?: boolean }).allowsAuth;
        if (!this.auth || !offersAuth) return start();
        connection.login(this.auth, (loginError) => (loginError ? finish(loginError) : start()));
      });
    });
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
