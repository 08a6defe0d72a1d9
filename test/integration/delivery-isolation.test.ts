/**
 * A dead destination of one kind cannot hold back the others (issue 9, item 1): an SMTP server that accepts
 * DATA and never answers keeps every email job of the relay busy, and Slack messages still go out, because
 * each channel kind has its own queue and worker slots.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/app/relay.js';
import { CRITICAL, mailsFor, post, rootsOf, startDeliveryRelay } from '../support/delivery.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

/** Speaks SMTP up to the end of DATA, then never answers: the fault is a hang longer than any test. */
interface HangingSmtp {
  url: string;
  /** Messages whose DATA ended and that are waiting for an answer that never comes. */
  hanging: number;
  close(): Promise<void>;
}

async function startHangingSmtp(): Promise<HangingSmtp> {
  const sockets = new Set<Socket>();
  const state = { hanging: 0 };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setEncoding('utf8');
    socket.write('220 hanging.test ESMTP\r\n');
    let buffer = '';
    let inData = false;
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buffer = buffer.slice(end + 5);
          inData = false;
          state.hanging++;
          return; // no answer, ever
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-hanging.test\r\n250 8BITMIME\r\n');
        else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${port}`,
    get hanging() {
      return state.hanging;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const prefix = uniquePrefix('delivery-isolation');
const INCIDENTS = 12;
const CONCURRENCY = 4;
let fake: FakeSlack;
let smtp: HangingSmtp;
let sink: SmtpSink;
let relay: RunningRelay | undefined;

beforeAll(async () => {
  [fake, smtp, sink] = await Promise.all([startFakeSlack(), startHangingSmtp(), startSmtpSink()]);
});

afterAll(async () => {
  await relay?.stop();
  await smtp?.close();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

describe('an SMTP server that hangs after DATA', () => {
  it('does not hold back Slack: every Slack root is posted while every mail still hangs', async () => {
    // The SMTP timeout is far beyond the test: only separate worker slots can let Slack through.
    relay = await startDeliveryRelay(
      prefix,
      fake,
      sink,
      {
        criticalRepeat: '1h',
        delivery: { concurrency: CONCURRENCY, smtp_timeout: 3600, slack_pace: 0.05, shutdown_grace: 0.3 },
      },
      {},
      { SMTP_URL: smtp.url },
    );
    const incidents: string[] = [];
    for (let i = 0; i < INCIDENTS; i++)
      incidents.push((await post(relay, inGroup(fixture('firing-postgresql-down'), `iso-${i}`))).incidentId);

    // Every email slot of the relay is held by a send the server will never answer.
    const email = relay.queue.queues.email;
    await pollUntil(
      async () => smtp.hanging >= 1 && (await email.getActiveCount()) === CONCURRENCY,
      30_000,
      () => `${smtp.hanging} mails hanging`,
    );

    await pollUntil(
      () => incidents.every((id) => rootsOf(fake, id, CRITICAL).length === 1),
      30_000,
      () =>
        `Slack roots posted for ${incidents.filter((id) => rootsOf(fake, id).length > 0).length} of ${INCIDENTS} incidents; ` +
        `${smtp.hanging} mails hanging`,
    );

    // Meanwhile no mail went anywhere, and the email slots are still all held by hung sends.
    for (const id of incidents) expect(mailsFor(sink, id)).toEqual([]);
    const mails = await email.getJobCounts('waiting', 'prioritized', 'active');
    expect(mails.active).toBe(CONCURRENCY);
    expect((mails.active ?? 0) + (mails.waiting ?? 0) + (mails.prioritized ?? 0)).toBe(INCIDENTS);
  }, 60_000);
});
