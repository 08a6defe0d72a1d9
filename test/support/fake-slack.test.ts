import {
  ErrorCode,
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from '@slack/web-api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SLACK_TOKEN, type FakeSlack, startFakeSlack } from './fake-slack.js';

const blocks = [
  { type: 'header', text: { type: 'plain_text', text: 'Reefer excursion' } },
  { type: 'section', text: { type: 'mrkdwn', text: '*Trailer* R-17 at 9.4 °C' } },
];

let fake: FakeSlack;
let slack: WebClient;

beforeAll(async () => {
  fake = await startFakeSlack();
  // No retries and rejected 429s, so every injected fault surfaces as exactly one error.
  slack = new WebClient(DEFAULT_SLACK_TOKEN, {
    slackApiUrl: fake.url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 2000,
  });
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected the call to reject'),
    (error: unknown) => error,
  );
}

describe('fake Slack', () => {
  it('answers auth.test for the configured token and records it', async () => {
    const result = await slack.auth.test();
    expect(result).toMatchObject({ ok: true, team: 'Cold Chain', user_id: 'U0001', bot_id: 'B0001' });
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({ method: 'auth.test', token: DEFAULT_SLACK_TOKEN });
  });

  it('rejects an unknown token with invalid_auth', async () => {
    const stranger = new WebClient('xoxb-someone-else', {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
    });
    const error = await rejection(stranger.auth.test());
    expect(error).toBeInstanceOf(WebAPIPlatformError);
    expect((error as WebAPIPlatformError).data.error).toBe('invalid_auth');
  });

  it('posts blocks to #name, answers with the channel id and records parsed blocks', async () => {
    const result = await slack.chat.postMessage({
      channel: '#alerts-critical',
      text: 'Reefer excursion',
      blocks,
    });
    expect(result.ok).toBe(true);
    expect(result.channel).toBe('C0CRIT');
    expect(result.ts).toMatch(/^\d{10}\.\d{6}$/);

    const call = fake.callsTo('chat.postMessage')[0];
    expect(call?.body.blocks).toEqual(blocks);
    expect(call?.body.channel).toBe('#alerts-critical');
    expect(call?.response.status).toBe(200);
    expect(fake.topLevelMessages('C0CRIT')).toHaveLength(1);
    expect(fake.messages.get(result.ts ?? '')).toMatchObject({
      channel: 'C0CRIT',
      text: 'Reefer excursion',
      blocks,
    });
  });

  it('gives unique, increasing ts values', async () => {
    const first = await slack.chat.postMessage({ channel: 'alerts-info', text: 'one' });
    const second = await slack.chat.postMessage({ channel: 'C0INFO', text: 'two' });
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
  });

  it('refuses an unknown channel', async () => {
    const error = await rejection(slack.chat.postMessage({ channel: '#nowhere', text: 'x' }));
    expect((error as WebAPIPlatformError).data.error).toBe('channel_not_found');
  });

  it('requires the channel id for chat.update, like Slack', async () => {
    const posted = await slack.chat.postMessage({ channel: '#alerts-critical', text: 'firing', blocks });
    const ts = posted.ts ?? '';

    const byName = await rejection(slack.chat.update({ channel: '#alerts-critical', ts, text: 'resolved' }));
    expect(byName).toBeInstanceOf(WebAPIPlatformError);
    expect((byName as WebAPIPlatformError).data.error).toBe('channel_not_found');

    const updated = await slack.chat.update({ channel: 'C0CRIT', ts, text: 'resolved', blocks: [] });
    expect(updated.ok).toBe(true);
    expect(fake.messages.get(ts)).toMatchObject({ text: 'resolved', blocks: [], updates: 1 });

    const missing = await rejection(slack.chat.update({ channel: 'C0CRIT', ts: '1.000100', text: 'x' }));
    expect((missing as WebAPIPlatformError).data.error).toBe('message_not_found');
  });

  it('records threaded replies and refuses a thread that does not exist', async () => {
    const root = await slack.chat.postMessage({ channel: '#alerts-warning', text: 'root' });
    const rootTs = root.ts ?? '';
    const reply = await slack.chat.postMessage({
      channel: 'C0WARN',
      text: 'still firing',
      thread_ts: rootTs,
      reply_broadcast: true,
    });
    expect(reply.ok).toBe(true);
    expect(fake.callsTo('chat.postMessage')[1]?.body.thread_ts).toBe(rootTs);
    expect(fake.replies(rootTs)).toEqual([
      expect.objectContaining({ thread_ts: rootTs, reply_broadcast: true }),
    ]);
    expect(fake.topLevelMessages('#alerts-warning')).toHaveLength(1);

    const wrongChannel = await rejection(
      slack.chat.postMessage({ channel: 'C0INFO', text: 'x', thread_ts: rootTs }),
    );
    expect((wrongChannel as WebAPIPlatformError).data.error).toBe('thread_not_found');
  });

  it('surfaces an injected 429 as a WebClient rate-limited error with retryAfter', async () => {
    fake.failNext('chat.postMessage', { kind: 'rateLimited', retryAfterSeconds: 7 });
    const error = await rejection(slack.chat.postMessage({ channel: '#alerts-critical', text: 'x' }));
    expect(error).toBeInstanceOf(WebAPIRateLimitedError);
    expect(error).toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 7 });
    expect((error as WebAPIRateLimitedError).code).toBe('slack_webapi_rate_limited_error');
    expect(fake.calls[0]?.response).toEqual({ status: 429, body: { ok: false, error: 'ratelimited' } });
    expect(fake.rateLimitedCount).toBe(1);
    // The fault was used up: the next post goes through.
    await expect(slack.chat.postMessage({ channel: '#alerts-critical', text: 'x' })).resolves.toMatchObject({
      ok: true,
    });
  });

  it('surfaces an injected HTTP 500 as an HTTP error', async () => {
    fake.failNext('chat.postMessage', { kind: 'http', status: 500 });
    const error = await rejection(slack.chat.postMessage({ channel: '#alerts-critical', text: 'x' }));
    expect(error).toBeInstanceOf(WebAPIHTTPError);
    expect(error).toMatchObject({ code: ErrorCode.HTTPError, statusCode: 500 });
    expect(fake.messages.size).toBe(0);
  });

  it('surfaces an injected invalid_blocks as a platform error', async () => {
    fake.failNext('chat.postMessage', { kind: 'error', error: 'invalid_blocks' });
    const error = await rejection(slack.chat.postMessage({ channel: '#alerts-critical', text: 'x', blocks }));
    expect(error).toBeInstanceOf(WebAPIPlatformError);
    expect(error).toMatchObject({
      code: ErrorCode.PlatformError,
      data: { ok: false, error: 'invalid_blocks' },
    });
  });

  it('holds the request on a timeout fault until the client gives up', async () => {
    const impatient = new WebClient(DEFAULT_SLACK_TOKEN, {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      timeout: 300,
      // The abort is the expected outcome; WebClient's warning about it is noise.
      logLevel: LogLevel.ERROR,
    });
    fake.failNext('chat.postMessage', { kind: 'timeout' });
    const started = Date.now();
    const error = await rejection(impatient.chat.postMessage({ channel: '#alerts-critical', text: 'x' }));
    expect(error).toBeInstanceOf(WebAPIRequestError);
    expect((error as WebAPIRequestError).code).toBe(ErrorCode.RequestError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(fake.calls[0]?.response).toEqual({ status: 0, body: null });
  });

  it('applies a fault for "*" to any method, and `times` consecutive calls', async () => {
    fake.failNext('*', { kind: 'error', error: 'fatal_error' }, 2);
    await expect(slack.auth.test()).rejects.toBeInstanceOf(WebAPIPlatformError);
    await expect(slack.chat.postMessage({ channel: 'C0QA', text: 'x' })).rejects.toBeInstanceOf(
      WebAPIPlatformError,
    );
    await expect(slack.auth.test()).resolves.toMatchObject({ ok: true });
  });

  it('answers unknown_method for methods it does not implement', async () => {
    const error = await rejection(
      slack.apiCall('reactions.add', { channel: 'C0CRIT', name: 'fire', timestamp: '1' }),
    );
    expect((error as WebAPIPlatformError).data.error).toBe('unknown_method');
  });

  it('rate-limits posts per channel when configured', async () => {
    let now = 1_000_000;
    const paced = await startFakeSlack({
      rateLimitPerChannel: { perSecond: 1, retryAfterSeconds: 1 },
      now: () => now,
    });
    try {
      const client = new WebClient(DEFAULT_SLACK_TOKEN, {
        slackApiUrl: paced.url,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
      });
      await client.chat.postMessage({ channel: '#alerts-critical', text: 'one' });
      // Another channel has its own budget.
      await client.chat.postMessage({ channel: '#alerts-warning', text: 'one' });
      now += 500;
      await expect(
        client.chat.postMessage({ channel: '#alerts-critical', text: 'two' }),
      ).rejects.toMatchObject({
        code: ErrorCode.RateLimitedError,
        retryAfter: 1,
      });
      now += 500;
      await expect(
        client.chat.postMessage({ channel: '#alerts-critical', text: 'two' }),
      ).resolves.toMatchObject({
        ok: true,
      });
      expect(paced.rateLimitedCount).toBe(1);
      expect(paced.topLevelMessages('C0CRIT').map((m) => m.text)).toEqual(['one', 'two']);
    } finally {
      await paced.close();
    }
  });

  it('waitFor resolves once the predicate holds and lists the calls when it times out', async () => {
    const pending = fake.waitFor((f) => f.messages.size === 1, 10_000);
    await slack.chat.postMessage({ channel: '#alerts-info', text: 'x' });
    await pending;

    await expect(fake.waitFor((f) => f.messages.size === 5, 50)).rejects.toThrow(
      /timed out after 50ms; 1 calls: chat\.postMessage\(200\)/,
    );
  });

  it('keeps metadata and returns it from conversations.history only with include_all_metadata', async () => {
    const metadata = {
      event_type: 'relay_incident',
      event_payload: { incident_id: 'i1', delivery_id: 'd1' },
    };
    const first = await slack.chat.postMessage({ channel: '#alerts-critical', text: 'one', metadata });
    const second = await slack.chat.postMessage({ channel: '#alerts-critical', text: 'two' });
    await slack.chat.postMessage({ channel: '#alerts-critical', text: 'reply', thread_ts: first.ts });
    await slack.chat.postMessage({ channel: '#alerts-warning', text: 'elsewhere' });

    const plain = await slack.conversations.history({ channel: 'C0CRIT' });
    // Newest first, top-level only, no metadata unless asked for.
    expect(plain.messages?.map((m) => m.text)).toEqual(['two', 'one']);
    expect(plain.messages?.[1]?.metadata).toBeUndefined();
    const full = await slack.conversations.history({ channel: 'C0CRIT', include_all_metadata: true });
    expect(full.messages?.[1]?.metadata).toEqual(metadata);

    // oldest/latest are exclusive, limit pages with a cursor.
    const after = await slack.conversations.history({ channel: 'C0CRIT', oldest: first.ts });
    expect(after.messages?.map((m) => m.ts)).toEqual([second.ts]);
    const paged = await slack.conversations.history({ channel: 'C0CRIT', limit: 1 });
    expect(paged.has_more).toBe(true);
    const next = await slack.conversations.history({
      channel: 'C0CRIT',
      limit: 1,
      cursor: paged.response_metadata?.next_cursor,
    });
    expect(next.messages?.map((m) => m.text)).toEqual(['one']);
    expect(next.has_more).toBe(false);

    // Like Slack, history needs the id.
    const byName = await rejection(slack.conversations.history({ channel: '#alerts-critical' }));
    expect((byName as WebAPIPlatformError).data.error).toBe('channel_not_found');
  });

  it('lists a thread with conversations.replies: the parent, then its replies, with metadata when asked', async () => {
    const metadata = { event_type: 'relay_reply', event_payload: { reply: 'reminder:1' } };
    const root = await slack.chat.postMessage({ channel: '#alerts-critical', text: 'root' });
    await slack.chat.postMessage({ channel: 'C0CRIT', text: 'r1', thread_ts: root.ts, metadata });
    const thread = await slack.conversations.replies({
      channel: 'C0CRIT',
      ts: root.ts ?? '',
      include_all_metadata: true,
    });
    expect(thread.messages?.map((m) => m.text)).toEqual(['root', 'r1']);
    expect(thread.messages?.[1]?.metadata).toEqual(metadata);
    const missing = await rejection(slack.conversations.replies({ channel: 'C0CRIT', ts: '1.000100' }));
    expect((missing as WebAPIPlatformError).data.error).toBe('thread_not_found');
  });

  it('answers missing_scope when the token lacks a scope, and names the scopes in x-oauth-scopes', async () => {
    const scopes = (await slack.auth.test()).response_metadata?.scopes;
    expect(scopes).toContain('channels:history');
    fake.scopes = fake.scopes.filter((s) => s !== 'channels:history');
    expect((await slack.auth.test()).response_metadata?.scopes).not.toContain('channels:history');
    const error = await rejection(slack.conversations.history({ channel: 'C0CRIT' }));
    expect((error as WebAPIPlatformError).data).toMatchObject({
      error: 'missing_scope',
      needed: 'channels:history',
    });
    fake.reset();
    await expect(slack.conversations.history({ channel: 'C0CRIT' })).resolves.toMatchObject({ ok: true });
  });

  it('answers not_in_channel for history until the bot joins', async () => {
    fake.members.delete('C0CRIT');
    const error = await rejection(slack.conversations.history({ channel: 'C0CRIT' }));
    expect((error as WebAPIPlatformError).data.error).toBe('not_in_channel');
    await expect(slack.conversations.join({ channel: 'C0CRIT' })).resolves.toMatchObject({
      ok: true,
      channel: { id: 'C0CRIT', is_member: true },
    });
    await expect(slack.conversations.history({ channel: 'C0CRIT' })).resolves.toMatchObject({ ok: true });
  });

  it('lists channels and deletes messages by channel id', async () => {
    const list = await slack.conversations.list({ types: 'public_channel,private_channel', limit: 2 });
    expect(list.channels).toHaveLength(2);
    expect(list.response_metadata?.next_cursor).not.toBe('');
    const posted = await slack.chat.postMessage({ channel: '#alerts-info', text: 'x' });
    await expect(slack.chat.delete({ channel: 'C0INFO', ts: posted.ts ?? '' })).resolves.toMatchObject({
      ok: true,
    });
    expect(fake.messages.size).toBe(0);
    expect(fake.deleted.map((m) => m.ts)).toEqual([posted.ts]);
    const again = await rejection(slack.chat.delete({ channel: 'C0INFO', ts: posted.ts ?? '' }));
    expect((again as WebAPIPlatformError).data.error).toBe('message_not_found');
  });

  it('lateAnswer commits the post at once and answers after the client gave up', async () => {
    const impatient = new WebClient(DEFAULT_SLACK_TOKEN, {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      timeout: 300,
      logLevel: LogLevel.ERROR,
    });
    fake.failNext('chat.postMessage', { kind: 'lateAnswer', afterMs: 60_000 });
    const error = await rejection(impatient.chat.postMessage({ channel: '#alerts-critical', text: 'x' }));
    expect(error).toBeInstanceOf(WebAPIRequestError);
    expect(fake.topLevelMessages('C0CRIT').map((m) => m.text)).toEqual(['x']);
    expect(fake.calls[0]?.response.status).toBe(200);
  });

  it('reset (with commit) closes the connection after carrying out the call', async () => {
    fake.failNext('chat.postMessage', { kind: 'reset', commit: true });
    fake.failNext('chat.postMessage', { kind: 'reset' });
    await expect(
      slack.chat.postMessage({ channel: '#alerts-critical', text: 'kept' }),
    ).rejects.toBeInstanceOf(WebAPIRequestError);
    await expect(
      slack.chat.postMessage({ channel: '#alerts-critical', text: 'lost' }),
    ).rejects.toBeInstanceOf(WebAPIRequestError);
    expect(fake.topLevelMessages('C0CRIT').map((m) => m.text)).toEqual(['kept']);
  });

  it('lateCommit carries out the held post right after the next post', async () => {
    const impatient = new WebClient(DEFAULT_SLACK_TOKEN, {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      timeout: 300,
      logLevel: LogLevel.ERROR,
    });
    fake.failNext('chat.postMessage', { kind: 'lateCommit' });
    await rejection(impatient.chat.postMessage({ channel: '#alerts-critical', text: 'late' }));
    expect(fake.messages.size).toBe(0);
    await slack.chat.postMessage({ channel: '#alerts-critical', text: 'retry' });
    expect(fake.topLevelMessages('C0CRIT').map((m) => m.text)).toEqual(['retry', 'late']);
  });

  it('reset clears calls, messages and pending faults', async () => {
    await slack.chat.postMessage({ channel: '#alerts-info', text: 'x' });
    fake.failNext('auth.test', { kind: 'http', status: 503 });
    fake.reset();
    expect(fake.calls).toHaveLength(0);
    expect(fake.messages.size).toBe(0);
    await expect(slack.auth.test()).resolves.toMatchObject({ ok: true });
  });
});
