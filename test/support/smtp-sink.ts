/**
 * A real SMTP server on a loopback port that keeps every message it receives, parsed with mailparser.
 * The relay sends to it over plain smtp:// with nodemailer exactly as it would to a real relay host, so
 * envelope handling, MIME encoding and SMTP reply codes are exercised end to end.
 */

import { type Headers, type ParsedMail, simpleParser } from 'mailparser';
import {
  SMTPServer,
  type SMTPServerAuthentication,
  type SMTPServerAuthenticationResponse,
  type SMTPServerDataStream,
  type SMTPServerError,
  type SMTPServerSession,
} from 'smtp-server';
import { pollUntil } from './poll.js';

/** 4xx are transient (the sender should retry later), 5xx permanent. 421 also closes the connection. */
export type SmtpFaultCode = 421 | 450 | 451 | 452 | 550 | 552 | 554;

/** Refuse the message at the DATA stage with a reply code. */
export interface SmtpReplyFault {
  code: SmtpFaultCode;
  /** Reply text after the code; a descriptive default per code otherwise. */
  message?: string;
  /** Only for messages to this envelope recipient; others pass it by and leave it queued. */
  to?: string;
}

/**
 * Read the whole message after DATA and never answer: the sender cannot know whether it was delivered.
 * `delivered: true` models a server that stored the message and lost its reply (the message is in
 * `messages`); otherwise it lands in `hung` only. The connection stays open until the client gives up,
 * `dropHung()` closes it, or the sink closes.
 */
export interface SmtpHangFault {
  kind: 'hang-after-data';
  delivered?: boolean;
  /** Only for messages to this envelope recipient; others pass it by and leave it queued. */
  to?: string;
}

export type SmtpFault = SmtpReplyFault | SmtpHangFault;

export interface ReceivedMail {
  /** Envelope sender (MAIL FROM), '' for the null sender. The From header is in `parsed.from`. */
  from: string;
  /** Envelope recipients (RCPT TO), in order; Bcc recipients appear here but in no header. */
  to: string[];
  subject: string | undefined;
  /** With angle brackets, as mailparser returns it: '<id@host>'. */
  messageId: string | undefined;
  inReplyTo: string | undefined;
  /** Always an array, also for a single reference (mailparser returns a bare string then). */
  references: string[];
  text: string | undefined;
  html: string | undefined;
  /** Parsed headers keyed by lowercase name; values are strings or mailparser's structured objects. */
  headers: Headers;
  /** The message as received after DATA, decoded as UTF-8. */
  raw: string;
  /** Everything mailparser produced, for what the fields above do not cover (attachments, from, cc, date). */
  parsed: ParsedMail;
  /** The username if the client authenticated, which is optional here. */
  authUser: string | undefined;
  receivedAt: number;
}

export interface RejectedMail extends ReceivedMail {
  rejectedWith: { code: SmtpFaultCode; message: string };
}

export interface SmtpSinkOptions {
  /**
   * Advertise SIZE and answer 552 to larger messages, as a real relay host would. Off by default so any
   * message is accepted.
   */
  maxMessageBytes?: number;
}

export interface SmtpSink {
  /** `smtp://127.0.0.1:PORT`, usable as nodemailer's transport URL (and SMTP_URL). */
  readonly url: string;
  readonly port: number;
  /** Accepted messages in the order they were received; cleared in place by reset(). */
  readonly messages: ReceivedMail[];
  /** Messages read by a 'hang-after-data' fault and never answered (also those it counts as delivered). */
  readonly hung: ReceivedMail[];
  /**
   * Messages refused by an injected fault or for exceeding maxMessageBytes, so a test can see the attempt
   * that a retry followed.
   */
  readonly rejected: RejectedMail[];
  /** Connection-level errors reported by smtp-server (e.g. a client resetting the socket). */
  readonly errors: Error[];
  /** Apply `fault` to the next `times` messages at the DATA stage. Faults queue in the order given. */
  failNext(fault: SmtpFault, times?: number): void;
  /**
   * Closes the connections of messages held by a 'hang-after-data' fault without a reply, as a server that
   * crashed after reading the message would.
   */
  dropHung(): void;
  /**
   * A slow server: while set, the greeting and the replies to MAIL FROM, RCPT TO and the message each come
   * `delayMs` late (0 = prompt again). Messages are stored before their late reply.
   */
  setSlow(delayMs: number): void;
  /** Down: the port is closed, so connecting fails at once (ECONNREFUSED). Open connections carry on. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Poll until `predicate` holds; a predicate that throws counts as not yet satisfied. */
  waitFor(predicate: (sink: SmtpSink) => boolean, timeoutMs?: number): Promise<void>;
  /** Clears messages, hung, rejected, errors, queued faults and slowness; drops held connections. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_FAULT_MESSAGES: Record<SmtpFaultCode, string> = {
  421: 'Service not available, closing transmission channel (injected fault)',
  450: 'Mailbox temporarily unavailable (injected fault)',
  451: 'Local error in processing, try again later (injected fault)',
  452: 'Insufficient system storage (injected fault)',
  550: 'Mailbox unavailable (injected fault)',
  552: 'Message exceeds storage allocation (injected fault)',
  554: 'Transaction failed (injected fault)',
};

function summarize(mail: ReceivedMail): string {
  return `${JSON.stringify(mail.subject ?? '')} → ${mail.to.join(',')}`;
}

class SmtpSinkServer implements SmtpSink {
  readonly messages: ReceivedMail[] = [];
  readonly hung: ReceivedMail[] = [];
  readonly rejected: RejectedMail[] = [];
  readonly errors: Error[] = [];
  url = '';
  port = 0;

  private readonly server: SMTPServer;
  private readonly faults: { fault: SmtpFault; remaining: number }[] = [];
  private readonly maxMessageBytes: number | undefined;
  /** Session ids of connections held by a 'hang-after-data' fault. */
  private readonly held = new Set<string>();
  private slowMs = 0;
  private closed: Promise<void> | undefined;

  constructor(options: SmtpSinkOptions) {
    this.maxMessageBytes = options.maxMessageBytes;
    this.server = new SMTPServer({
      name: 'smtp-sink.test',
      authOptional: true,
      // Without STARTTLS nodemailer stays on plain smtp:// and smtp-server skips its default-cert warning.
      disabledCommands: ['STARTTLS'],
      // Credentials in SMTP_URL must still work over the plaintext connection.
      allowInsecureAuth: true,
      disableReverseLookup: true,
      logger: false,
      // A pooled transport keeps its connection open; don't let close() wait the default 30 s for it.
      closeTimeout: 100,
      size: options.maxMessageBytes,
      rejectOversized: options.maxMessageBytes !== undefined,
      onAuth: (auth, session, callback) => this.onAuth(auth, session, callback),
      onConnect: (_session, callback) => this.late(() => callback()),
      onMailFrom: (_address, _session, callback) => this.late(() => callback()),
      onRcptTo: (_address, _session, callback) => this.late(() => callback()),
      onData: (stream, session, callback) => {
        this.onData(stream, session).then(
          (verdict) => {
            if (verdict === 'hang') return;
            this.late(() => callback(verdict));
          },
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
        );
      },
    });
    this.server.on('error', (error: Error) => this.errors.push(error));
  }

  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.server.address();
    if (address === null || typeof address === 'string') throw new Error('smtp-sink: no TCP address');
    this.port = address.port;
    this.url = `smtp://127.0.0.1:${address.port}`;
  }

  failNext(fault: SmtpFault, times = 1): void {
    if (!Number.isInteger(times) || times < 1)
      throw new RangeError(`failNext: times must be a positive integer, got ${times}`);
    this.faults.push({ fault, remaining: times });
  }

  dropHung(): void {
    for (const connection of this.connections()) {
      if (this.held.has(connection.id)) connection.close();
    }
    this.held.clear();
  }

  setSlow(delayMs: number): void {
    if (!Number.isFinite(delayMs) || delayMs < 0)
      throw new RangeError(`setSlow: delayMs must be a non-negative number, got ${delayMs}`);
    this.slowMs = delayMs;
  }

  down(): Promise<void> {
    // Only the listening socket closes (net.Server.close): connections already open carry on. Its callback
    // waits for those to end, so resolve once the port is closed, which close() does at once.
    return new Promise<void>((resolve) => {
      this.server.server.close();
      setImmediate(resolve);
    });
  }

  up(): Promise<void> {
    return this.listen(this.port);
  }

  waitFor(predicate: (sink: SmtpSink) => boolean, timeoutMs = 5000): Promise<void> {
    return pollUntil(
      () => predicate(this),
      timeoutMs,
      () => {
        const seen = this.messages.length ? this.messages.map(summarize).join('; ') : 'none';
        const refused = this.rejected.length
          ? `; rejected: ${this.rejected.map((m) => `${m.rejectedWith.code} ${summarize(m)}`).join('; ')}`
          : '';
        const hung = this.hung.length ? `; hung: ${this.hung.map(summarize).join('; ')}` : '';
        return `smtp-sink: waitFor timed out after ${timeoutMs}ms; ${this.messages.length} messages: ${seen}${refused}${hung}`;
      },
    );
  }

  reset(): void {
    this.dropHung();
    this.slowMs = 0;
    this.messages.length = 0;
    this.hung.length = 0;
    this.rejected.length = 0;
    this.errors.length = 0;
    this.faults.length = 0;
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => this.server.close(() => resolve()));
    return this.closed;
  }

  private onAuth(
    auth: SMTPServerAuthentication,
    _session: SMTPServerSession,
    callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void {
    // Any credentials are accepted: the sink tests delivery, not the relay host's password policy.
    callback(null, { user: auth.username ?? 'anonymous' });
  }

  /** smtp-server's open connections; only `id` (the session id) and `close()` are used. */
  private connections(): { id: string; close(): void }[] {
    return [...(this.server as unknown as { connections: Set<{ id: string; close(): void }> }).connections];
  }

  /** Runs `reply` now, or `slowMs` later while the sink is slow. */
  private late(reply: () => void): void {
    // Unreferenced: a reply still pending when a test ends must not keep its process alive.
    if (this.slowMs > 0) setTimeout(reply, this.slowMs).unref();
    else reply();
  }

  /** Resolves with the error to answer DATA with, undefined to accept, or 'hang' to never answer. */
  private async onData(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
  ): Promise<SMTPServerError | undefined | 'hang'> {
    // smtp-server needs the stream drained before the callback, whatever the verdict.
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const mail = await this.toMail(raw, session);

    // smtp-server answers 552 to an oversized message anyway; recording it as accepted would be a lie.
    // Checked first so that an injected fault is not used up on a message that never stood a chance.
    const fault: SmtpFault | undefined = stream.sizeExceeded
      ? { code: 552, message: `Error: message exceeds fixed maximum message size ${this.maxMessageBytes}` }
      : this.takeFault(mail);
    if (fault && 'kind' in fault) {
      this.held.add(session.id);
      this.hung.push(mail);
      if (fault.delivered) this.messages.push(mail);
      return 'hang';
    }
    if (fault) {
      const message = fault.message ?? DEFAULT_FAULT_MESSAGES[fault.code];
      this.rejected.push({ ...mail, rejectedWith: { code: fault.code, message } });
      const error: SMTPServerError = new Error(message);
      error.responseCode = fault.code;
      return error;
    }
    // Stored before the 250 goes out, so `await transport.sendMail()` can be followed by assertions directly.
    this.messages.push(mail);
    return undefined;
  }

  private async toMail(raw: Buffer, session: SMTPServerSession): Promise<ReceivedMail> {
    const parsed = await simpleParser(raw);
    const { mailFrom, rcptTo } = session.envelope;
    const references = parsed.references;
    const user: unknown = session.user;
    return {
      from: mailFrom === false ? '' : mailFrom.address,
      to: rcptTo.map((rcpt) => rcpt.address),
      subject: parsed.subject,
      messageId: parsed.messageId,
      inReplyTo: parsed.inReplyTo,
      references: references === undefined ? [] : Array.isArray(references) ? references : [references],
      text: parsed.text,
      html: typeof parsed.html === 'string' ? parsed.html : undefined,
      headers: parsed.headers,
      raw: raw.toString('utf8'),
      parsed,
      authUser: typeof user === 'string' ? user : undefined,
      receivedAt: Date.now(),
    };
  }

  /** The first queued fault that applies to `mail` (one with `to` applies only to that recipient). */
  private takeFault(mail: ReceivedMail): SmtpFault | undefined {
    const index = this.faults.findIndex(({ fault }) => fault.to === undefined || mail.to.includes(fault.to));
    const entry = this.faults[index];
    if (!entry) return undefined;
    entry.remaining--;
    if (entry.remaining <= 0) this.faults.splice(index, 1);
    return entry.fault;
  }
}

export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const sink = new SmtpSinkServer(options);
  await sink.listen();
  return sink;
}
