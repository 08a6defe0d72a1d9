/**
 * SlackSender: the only Slack calls the relay makes. The real adapter uses @slack/web-api with no retries
 * of its own (BullMQ is the only retry layer) and classifies every failure; the preview adapter writes one
 * JSON file per call to the outbox, with synthetic channel ids and ts so updates and threads work.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from '@slack/web-api';
import {
  InvalidBlocksError,
  PermanentDeliveryError,
  RateLimitedError,
  TransientDeliveryError,
} from './errors.js';

export interface SlackMessage {
  channel: string;
  text: string;
  attachments?: unknown[];
  blocks?: unknown[];
  thread_ts?: string;
  reply_broadcast?: boolean;
}

export interface SlackPosted {
  channel: string;
  ts: string;
}

export interface SlackSender {
  readonly preview: boolean;
  postMessage(message: SlackMessage): Promise<SlackPosted>;
  /** `channel` must be the id that postMessage returned: chat.update refuses names. */
  update(message: SlackMessage & { ts: string }): Promise<void>;
  /** Checks the token at start; throws PermanentDeliveryError with Slack's reason. */
  verify(): Promise<string>;
}

const PERMANENT_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'msg_too_long',
  'no_text',
  'message_not_found',
  'cant_update_message',
  'restricted_action',
]);
const INVALID_BLOCKS = new Set(['invalid_blocks', 'invalid_blocks_format', 'invalid_attachments']);

export function classifySlackError(error: unknown): Error {
  if (error instanceof WebAPIRateLimitedError)
    return new RateLimitedError(Math.max(1, error.retryAfter) * 1000, '429');
  if (error instanceof WebAPIPlatformError) {
    const code = error.data.error;
    if (INVALID_BLOCKS.has(code)) return new InvalidBlocksError(`Slack refused the blocks: ${code}`);
    if (PERMANENT_ERRORS.has(code)) return new PermanentDeliveryError(`Slack: ${code}`);
    return new TransientDeliveryError(`Slack: ${code}`);
  }
  if (error instanceof WebAPIHTTPError) {
    const permanent =
      error.statusCode >= 400 &&
      error.statusCode < 500 &&
      error.statusCode !== 408 &&
      error.statusCode !== 429;
    const message = `Slack answered HTTP ${error.statusCode}`;
    return permanent ? new PermanentDeliveryError(message) : new TransientDeliveryError(message);
  }
  if (error instanceof WebAPIRequestError)
    return new TransientDeliveryError(`Slack unreachable: ${error.original.message}`, true);
  return new TransientDeliveryError(`Slack call failed: ${(error as Error).message}`);
}

export class WebApiSlackSender implements SlackSender {
  readonly preview = false;
  private readonly client: WebClient;

  constructor(
    token: string,
    apiUrl: string,
    timeoutMs: number,
    private readonly identity: { username: string; icon_emoji: string } = {
      username: 'AlertManager',
      icon_emoji: ':fire:',
    },
  ) {
    this.client = new WebClient(token, {
      slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: timeoutMs,
      // Failures are classified and logged by the worker; the client's own console warnings would repeat them.
      logLevel: LogLevel.ERROR,
    });
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classifySlackError(error);
    }
  }

  async postMessage(message: SlackMessage): Promise<SlackPosted> {
    const result = await this.call(() =>
      this.client.chat.postMessage({
        ...this.identity,
        ...message,
        unfurl_links: false,
        unfurl_media: false,
      } as never),
    );
    if (!result.channel || !result.ts)
      throw new TransientDeliveryError('Slack answered ok without channel and ts');
    return { channel: result.channel, ts: result.ts };
  }

  async update(message: SlackMessage & { ts: string }): Promise<void> {
    const { thread_ts: _thread, reply_broadcast: _broadcast, ...rest } = message;
    await this.call(() => this.client.chat.update(rest as never));
  }

  async verify(): Promise<string> {
    const result = await this.call(() => this.client.auth.test());
    return `${result.team ?? '?'} as ${result.user ?? '?'}`;
  }
}

/** Preview mode: what would have been sent, one JSON file per call. */
export class OutboxSlackSender implements SlackSender {
  readonly preview = true;
  private readonly dir: string;
  private counter = 0;

  constructor(outboxDir: string) {
    this.dir = join(outboxDir, 'slack');
    mkdirSync(this.dir, { recursive: true });
  }

  private channelId(channel: string): string {
    if (/^[CGD][A-Z0-9]{6,}$/.test(channel)) return channel;
    return `C${createHash('sha256').update(channel.replace(/^#/, '')).digest('hex').slice(0, 10).toUpperCase()}`;
  }

  private write(method: string, args: unknown, response: unknown): void {
    this.counter += 1;
    const name = `${Date.now()}-${process.pid}-${String(this.counter).padStart(5, '0')}-${method}.json`;
    writeFileSync(join(this.dir, name), `${JSON.stringify({ method, args, response }, null, 2)}\n`);
  }

  async postMessage(message: SlackMessage): Promise<SlackPosted> {
    this.counter += 1;
    const posted = {
      channel: this.channelId(message.channel),
      ts: `${(Date.now() / 1000).toFixed(0)}.${String(this.counter).padStart(6, '0')}`,
    };
    this.write('chat.postMessage', message, { ok: true, ...posted });
    return posted;
  }

  async update(message: SlackMessage & { ts: string }): Promise<void> {
    this.write('chat.update', message, { ok: true, channel: message.channel, ts: message.ts });
  }

  async verify(): Promise<string> {
    return `preview: writing Slack calls to ${this.dir}`;
  }
}
