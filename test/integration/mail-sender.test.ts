/**
 * The SMTP sender against a real SMTP server (the sink) with injected faults: `smtp_timeout` really bounds a
 * send, and failures are classified honestly — only one that may have reached the server after DATA is
 * ambiguous (a resend may duplicate); a refused connection, a DNS error, a connection or greeting timeout and
 * any 4xx/5xx reply are not. Timeouts here are short only where the fault hangs for good.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type OutgoingMail, SmtpMailSender } from '../../src/channels/email/sender.js';
import { PermanentDeliveryError, TransientDeliveryError } from '../../src/channels/errors.js';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

let sink: SmtpSink;
const senders: SmtpMailSender[] = [];

beforeAll(async () => {
  sink = await startSmtpSink();
});
afterEach(() => {
  for (const sender of senders.splice(0)) sender.close();
  sink.reset();
});
afterAll(() => sink.close());

function sender(timeoutMs: number, url = sink.url): SmtpMailSender {
  const created = new SmtpMailSender(url, timeoutMs);
  senders.push(created);
  return created;
}

const mail: OutgoingMail = {
  from: 'Cold-chain relay <relay@coldchain.test>',
  to: ['oncall@coldchain.test'],
  subject: '[CRITICAL] ReeferTemperatureExcursion · TRK-0042',
  text: 'Trailer TRK-0042 is at 9.4 °C.',
  html: '<p>Trailer TRK-0042 is at 9.4 °C.</p>',
  messageId: '<relay.test.0@coldchain.test>',
  headers: { 'X-Relay-Incident': 'test' },
};

async function failureOf(send: Promise<void>): Promise<Error> {
  return send.then(
    () => expect.fail('expected the send to fail'),
    (error: unknown) => error as Error,
  );
}

describe('SmtpMailSender', () => {
  it('delivers with threading headers intact, and the SMTP server sees one message', async () => {
    await sender(30_000).send({ ...mail, inReplyTo: '<first@x>', references: ['<first@x>'] });
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]).toMatchObject({
      messageId: mail.messageId,
      inReplyTo: '<first@x>',
      subject: mail.subject,
      to: ['oncall@coldchain.test'],
    });
  });

  it('a server that reads the message and never answers: the send fails as ambiguous within smtp_timeout', async () => {
    sink.failNext({ kind: 'hang-after-data' });
    // Before the fix smtp_timeout never reached nodemailer, whose 10 min idle timeout outlasted this test.
    const error = await failureOf(sender(500).send(mail));
    expect(error).toBeInstanceOf(TransientDeliveryError);
    expect((error as TransientDeliveryError).ambiguous).toBe(true);
    expect(sink.hung).toHaveLength(1);
  });

  it('a server that drops the connection after the message, without a reply: ambiguous', async () => {
    sink.failNext({ kind: 'hang-after-data' });
    const send = failureOf(sender(30_000).send(mail));
    await sink.waitFor((s) => s.hung.length === 1, 20_000);
    sink.dropHung();
    const error = await send;
    expect(error).toBeInstanceOf(TransientDeliveryError);
    expect((error as TransientDeliveryError).ambiguous).toBe(true);
  });

  it('a server slow at every step: the whole-send deadline ends the send even though each step answers in time', async () => {
    // Each reply comes 0.7 of the step timeout late: no step times out, the four together outlast the deadline.
    sink.setSlow(700);
    const error = await failureOf(sender(1000).send(mail));
    // Without the deadline this send succeeds. Whichever timer ends it, it failed before the final reply.
    expect(error).toBeInstanceOf(TransientDeliveryError);
  });

  it('a slow server within the timeouts delivers, once', async () => {
    sink.setSlow(100);
    await sender(30_000).send(mail);
    expect(sink.messages).toHaveLength(1);
  });

  it('a greeting that never comes is a transient failure before anything was sent: not ambiguous', async () => {
    sink.setSlow(60_000);
    const error = await failureOf(sender(300).send(mail));
    expect(error).toBeInstanceOf(TransientDeliveryError);
    expect((error as TransientDeliveryError).ambiguous).toBe(false);
    expect(error.message).toMatch(/^SMTP unreachable/);
  });

  it('a closed port (ECONNREFUSED) is transient and not ambiguous', async () => {
    await sink.down();
    try {
      const error = await failureOf(sender(30_000).send(mail));
      expect(error).toBeInstanceOf(TransientDeliveryError);
      expect((error as TransientDeliveryError).ambiguous).toBe(false);
      expect(error.message).toContain('ECONNREFUSED');
    } finally {
      await sink.up();
    }
  });

  it('a host name that does not resolve is transient and not ambiguous', async () => {
    const error = await failureOf(sender(5000, 'smtp://no-such-host.invalid:2525').send(mail));
    expect(error).toBeInstanceOf(TransientDeliveryError);
    expect((error as TransientDeliveryError).ambiguous).toBe(false);
  });

  it('replies are answers, never ambiguous: 4xx transient, 5xx permanent, also the 421 that closes', async () => {
    for (const code of [421, 450, 451] as const) {
      sink.failNext({ code });
      const error = await failureOf(sender(30_000).send(mail));
      expect(error, String(code)).toBeInstanceOf(TransientDeliveryError);
      expect((error as TransientDeliveryError).ambiguous, String(code)).toBe(false);
      expect(error.message).toContain(`SMTP ${code}`);
    }
    sink.failNext({ code: 550 });
    expect(await failureOf(sender(30_000).send(mail))).toBeInstanceOf(PermanentDeliveryError);
    expect(sink.messages).toEqual([]);
  });

  it('verify answers for a reachable server and fails fast for a closed port', async () => {
    await expect(sender(30_000).verify()).resolves.toMatch(/answered/);
    await sink.down();
    try {
      await expect(sender(30_000).verify()).rejects.toBeInstanceOf(TransientDeliveryError);
    } finally {
      await sink.up();
    }
  });
});
