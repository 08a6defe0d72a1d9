/**
 * `npm run bench:latency`: first-notification latency on an idle relay. One critical incident at a time
 * (Slack `#alerts-critical` and email), spaced so the Slack channel is idle (the default `slack_pace: 1s`
 * has passed) and the workers have nothing else to do. For each it measures, from the moment the webhook's
 * 2xx reached the client:
 * - to the Slack API call: the fake Slack server's receipt time of the chat.postMessage (no rate limiter);
 * - to the SMTP DATA end: the SMTP sink's receipt time (set once it has parsed the message, so a few ms
 *   late at most).
 * It also prints when each job started (BullMQ's processedOn): the queue's share of the total.
 * The baseline of the same run: the same two sends made directly from this process (WebClient, nodemailer),
 * from the call to the same receipt times: the transport's own share. smtp-server, under the sink, waits
 * 100 ms before its greeting (early-talker detection), so every SMTP figure has a 100 ms floor that a relay
 * host without a greeting delay would not add. Goal: p50 < 50 ms.
 *
 *   --samples N (40)  --spacing MS (1500)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebClient } from '@slack/web-api';
import nodemailer from 'nodemailer';
import { startRelay } from '../src/app/relay.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { DEFAULT_SLACK_TOKEN, startFakeSlack } from '../test/support/fake-slack.js';
import { pollUntil } from '../test/support/poll.js';
import { deletePrefix, REDIS_URL } from '../test/support/redis.js';
import { startSmtpSink } from '../test/support/smtp-sink.js';
import { describeMs, firingWebhook, machineLine, quantile, sleep, writePolicy } from './support.js';

const { values: args } = parseArgs({
  options: {
    samples: { type: 'string', default: '40' },
    spacing: { type: 'string', default: '1500' },
  },
});
const SAMPLES = Number(args.samples);
const SPACING_MS = Number(args.spacing);

async function main(): Promise<void> {
  const run = String(process.pid);
  const prefix = `bench-latency-${run}`;
  const work = mkdtempSync(join(tmpdir(), 'relay-latency-'));
  const fake = await startFakeSlack();
  const sink = await startSmtpSink();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    REDIS_URL,
    RELAY_CONFIG: writePolicy(
      work,
      `routes:\n  - name: critical\n    matchers: ['severity="critical"']\n    slack: ['#alerts-critical']\n    email: [oncall]\n    repeat: 1h\nfallback_route: critical\ndelivery: { shutdown_grace: 2s }\nredis_prefix: ${prefix}\n`,
    ),
    SLACK_BOT_TOKEN: DEFAULT_SLACK_TOKEN,
    SLACK_API_URL: fake.url,
    SMTP_URL: sink.url,
    RELAY_ONCALL_EMAIL: 'oncall@coldchain.example',
    RELAY_OUTBOX_DIR: join(work, 'outbox'),
  });
  const relay = await startRelay(config, { logger: createLogger('error') });
  const lines = [
    `latency benchmark: ${SAMPLES} critical incidents one at a time, ${SPACING_MS} ms apart (idle channel, slack_pace ${config.policy.delivery.slack_pace}s); fake Slack without rate limits, SMTP sink`,
    machineLine(),
  ];
  // When each job started (BullMQ's processedOn), by incident and channel kind: the queue's share.
  const jobStarted = new Map<string, number>();
  for (const [kind, worker] of Object.entries(relay.workers ?? {}))
    worker.on('active', (job) =>
      jobStarted.set(`${kind}:${job.data.incidentId}`, job.processedOn ?? Date.now()),
    );
  const toSlackJob: number[] = [];
  const toSmtpJob: number[] = [];
  const toSlack: number[] = [];
  const toSmtp: number[] = [];
  const directSlack: number[] = [];
  const directSmtp: number[] = [];
  try {
    // Baseline: the same sends made directly, one at a time.
    const client = new WebClient(DEFAULT_SLACK_TOKEN, { slackApiUrl: fake.url });
    const transport = nodemailer.createTransport(sink.url);
    for (let i = 0; i < SAMPLES; i++) {
      const marker = `direct-${run}-${i}`;
      const slackStarted = Date.now();
      await client.chat.postMessage({ channel: '#alerts-critical', text: marker });
      const slackCall = fake.callsTo('chat.postMessage').find((c) => c.body.text === marker);
      directSlack.push((slackCall?.at ?? Number.NaN) - slackStarted);
      const smtpStarted = Date.now();
      await transport.sendMail({
        from: 'relay@localhost',
        to: 'oncall@coldchain.example',
        subject: marker,
        text: marker,
      });
      const mail = sink.messages.find((m) => m.subject === marker);
      directSmtp.push((mail?.receivedAt ?? Number.NaN) - smtpStarted);
    }
    transport.close();
    fake.reset();
    sink.reset();

    await sleep(2000);
    for (let i = 0; i < SAMPLES; i++) {
      const vehicle = `TRK-L${run}-${i}`;
      const res = await fetch(`${relay.url}/webhook/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: firingWebhook({
          groupKey: `{}:{alertname="ReeferCompressorFault", vehicle_id="${vehicle}"}`,
          alertname: 'ReeferCompressorFault',
          severity: 'critical',
          vehicle,
          fingerprint: `${run}${i.toString(16)}`,
        }),
      });
      const answeredAt = Date.now();
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
      const { incidentId } = (await res.json()) as { incidentId: string };
      const slackCall = () =>
        fake.callsTo('chat.postMessage').find((c) => JSON.stringify(c.body).includes(vehicle));
      const mail = () => sink.messages.find((m) => m.raw.includes(vehicle));
      await pollUntil(
        () => slackCall() !== undefined && mail() !== undefined,
        30_000,
        () => `incident ${i} (${vehicle}) was not posted and mailed within 30 s`,
      );
      toSlack.push((slackCall()?.at ?? Number.NaN) - answeredAt);
      toSmtp.push((mail()?.receivedAt ?? Number.NaN) - answeredAt);
      toSlackJob.push((jobStarted.get(`slack:${incidentId}`) ?? Number.NaN) - answeredAt);
      toSmtpJob.push((jobStarted.get(`email:${incidentId}`) ?? Number.NaN) - answeredAt);
      await sleep(SPACING_MS);
    }
    const p50Slack = quantile(toSlack, 0.5);
    const p50Smtp = quantile(toSmtp, 0.5);
    lines.push(
      `webhook 2xx → Slack chat.postMessage received: ${describeMs(toSlack)}  goal p50 < 50 ms: ${p50Slack < 50 ? 'met' : 'NOT met'}`,
      `webhook 2xx → SMTP DATA end received:        ${describeMs(toSmtp)}  goal p50 < 50 ms: ${p50Smtp < 50 ? 'met' : 'NOT met'}`,
      `  of which 2xx → Slack job started:         ${describeMs(toSlackJob)}`,
      `  of which 2xx → email job started:         ${describeMs(toSmtpJob)}`,
      `baseline, direct WebClient call → received:  ${describeMs(directSlack)}`,
      `baseline, direct nodemailer send → received: ${describeMs(directSmtp)}`,
    );
  } finally {
    process.stdout.write(`${lines.join('\n')}\n`);
    await relay.stop();
    await fake.close();
    await sink.close();
    await deletePrefix(prefix);
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:latency failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
