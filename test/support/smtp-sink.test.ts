import { createTransport } from 'nodemailer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from './smtp-sink.js';

let sink: SmtpSink;

beforeAll(async () => {
  sink = await startSmtpSink();
});
afterEach(() => sink.reset());
afterAll(() => sink.close());

const threaded = {
  from: '"Cold-chain relay" <relay@coldchain.test>',
  to: 'oncall@coldchain.test',
  bcc: 'audit@coldchain.test',
  subject: 'RESOLVED: Reefer excursion R-17 — 9.4 °C',
  messageId: '<resolved-r17@relay.coldchain.test>',
  inReplyTo: '<firing-r17@relay.coldchain.test>',
  references: ['<firing-r17@relay.coldchain.test>', '<repeat-r17@relay.coldchain.test>'],
  headers: { 'X-Alert-Fingerprint': 'a1b2c3' },
  text: 'Trailer R-17 is back at 3.1 °C.',
  html: '<p>Trailer <b>R-17</b> is back at 3.1 °C.</p>',
};

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected sendMail to reject'),
    (error: unknown) => error,
  );
}

describe('SMTP sink', () => {
  it('receives a multipart message over plain smtp:// and parses threading headers', async () => {
    expect(sink.url).toBe(`smtp://127.0.0.1:${sink.port}`);
    const transport = createTransport(sink.url);
    const info = await transport.sendMail(threaded);
    transport.close();

    expect(info.accepted).toEqual(['oncall@coldchain.test', 'audit@coldchain.test']);
    expect(sink.messages).toHaveLength(1);
    const mail = sink.messages[0];
    expect(mail).toMatchObject({
      from: 'relay@coldchain.test',
      to: ['oncall@coldchain.test', 'audit@coldchain.test'],
      subject: threaded.subject,
      messageId: threaded.messageId,
      inReplyTo: threaded.inReplyTo,
      references: threaded.references,
      text: threaded.text,
      html: threaded.html,
      authUser: undefined,
    });
    expect(mail?.headers.get('x-alert-fingerprint')).toBe('a1b2c3');
    expect(mail?.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    expect(mail?.raw).toContain('Message-ID: <resolved-r17@relay.coldchain.test>');
    expect(mail?.parsed.from?.text).toBe('"Cold-chain relay" <relay@coldchain.test>');
  });

  it('gives a single reference as a one-element array and accepts any credentials', async () => {
    const url = new URL(sink.url);
    url.username = 'relay';
    url.password = 'whatever';
    const transport = createTransport(url.toString());
    await transport.sendMail({
      ...threaded,
      bcc: undefined,
      references: '<firing-r17@relay.coldchain.test>',
    });
    transport.close();
    expect(sink.messages[0]?.references).toEqual(['<firing-r17@relay.coldchain.test>']);
    expect(sink.messages[0]?.authUser).toBe('relay');
  });

  it('answers a 450 fault with a transient error, then accepts the retry', async () => {
    sink.failNext({ code: 450 });
    const transport = createTransport(sink.url);
    const error = await rejection(transport.sendMail(threaded));
    expect(error).toMatchObject({ responseCode: 450 });
    expect(sink.messages).toHaveLength(0);
    expect(sink.rejected).toEqual([
      expect.objectContaining({ rejectedWith: expect.objectContaining({ code: 450 }) }),
    ]);

    await transport.sendMail(threaded);
    transport.close();
    expect(sink.messages).toHaveLength(1);
  });

  it('answers a 550 fault with a permanent error carrying the custom text', async () => {
    sink.failNext({ code: 550, message: 'No such user here' });
    const transport = createTransport(sink.url);
    const error = await rejection(transport.sendMail(threaded));
    transport.close();
    expect(error).toMatchObject({ responseCode: 550 });
    expect((error as Error & { response?: string }).response).toMatch(/^550 .*No such user here/);
  });

  it('refuses a message over maxMessageBytes with 552 without using up a queued fault', async () => {
    const small = await startSmtpSink({ maxMessageBytes: 2000 });
    const transport = createTransport(small.url);
    try {
      small.failNext({ code: 451 });
      const error = await rejection(transport.sendMail({ ...threaded, text: 'x'.repeat(5000) }));
      expect(error).toMatchObject({ responseCode: 552 });
      await expect(transport.sendMail(threaded)).rejects.toMatchObject({ responseCode: 451 });
      expect(small.messages).toHaveLength(0);
      expect(small.rejected.map((m) => m.rejectedWith.code)).toEqual([552, 451]);
    } finally {
      transport.close();
      await small.close();
    }
  });

  it('waitFor resolves on arrival and lists what arrived when it times out', async () => {
    const transport = createTransport(sink.url);
    const arrived = sink.waitFor(
      (s) => s.messages.some((m) => m.subject?.startsWith('RESOLVED') === true),
      2000,
    );
    void transport.sendMail(threaded).finally(() => transport.close());
    await arrived;
    await expect(sink.waitFor((s) => s.messages.length === 2, 50)).rejects.toThrow(
      /timed out after 50ms; 1 messages: "RESOLVED: Reefer excursion R-17/,
    );
  });
});

describe('SMTP sink faults', () => {
  it('hang-after-data reads the message and never answers: the client gives up, the message is in hung only', async () => {
    sink.failNext({ kind: 'hang-after-data' });
    // The fault hangs for good, so the client's inactivity timeout is what ends the send.
    const transport = createTransport({ url: sink.url, socketTimeout: 300 });
    const error = await rejection(transport.sendMail(threaded));
    transport.close();
    expect(error).toMatchObject({ code: 'ETIMEDOUT' });
    expect(sink.hung.map((m) => m.messageId)).toEqual([threaded.messageId]);
    expect(sink.messages).toEqual([]);
  });

  it('hang-after-data with delivered: stored as if delivered, the reply lost; dropHung closes without a reply', async () => {
    sink.failNext({ kind: 'hang-after-data', delivered: true });
    const transport = createTransport(sink.url);
    const sent = rejection(transport.sendMail(threaded));
    await sink.waitFor((s) => s.hung.length === 1, 10_000);
    expect(sink.messages.map((m) => m.messageId)).toEqual([threaded.messageId]);
    sink.dropHung();
    const error = await sent;
    transport.close();
    expect(error).toMatchObject({ code: 'ECONNECTION' });
    expect(error).not.toHaveProperty('responseCode');
  });

  it('setSlow delays the greeting and the replies; a patient client still delivers', async () => {
    sink.setSlow(2000);
    const impatient = createTransport({ url: sink.url, greetingTimeout: 50 });
    const error = await rejection(impatient.sendMail(threaded));
    impatient.close();
    expect(error).toMatchObject({ code: 'ETIMEDOUT' });
    expect(sink.messages).toEqual([]);

    sink.setSlow(20);
    const patient = createTransport(sink.url);
    await patient.sendMail(threaded);
    patient.close();
    expect(sink.messages).toHaveLength(1);
  });

  it('a fault with `to` applies only to mail for that recipient; other mail passes it by', async () => {
    sink.failNext({ code: 450, to: 'qa@coldchain.test' });
    const transport = createTransport(sink.url);
    await transport.sendMail({ ...threaded, bcc: undefined });
    const error = await rejection(
      transport.sendMail({ ...threaded, bcc: undefined, to: 'qa@coldchain.test' }),
    );
    await transport.sendMail({ ...threaded, bcc: undefined, to: 'qa@coldchain.test' });
    transport.close();
    expect(error).toMatchObject({ responseCode: 450 });
    expect(sink.messages.map((m) => m.to)).toEqual([['oncall@coldchain.test'], ['qa@coldchain.test']]);
  });

  it('down refuses connections until up, on the same port', async () => {
    const port = sink.port;
    await sink.down();
    const transport = createTransport(sink.url);
    try {
      const error = await rejection(transport.sendMail(threaded));
      expect(error).toMatchObject({ code: 'ESOCKET', originalCode: 'ECONNREFUSED' });
    } finally {
      await sink.up();
    }
    expect(sink.port).toBe(port);
    await transport.sendMail(threaded);
    transport.close();
    expect(sink.messages).toHaveLength(1);
  });
});
