/**
 * SlackSender: the only Slack calls the relay makes. The real adapter uses @slack/web-api with no retries
 * of its own (BullMQ is the only retry layer) and classifies every failure; the preview adapter writes one
 * JSON file per call to the outbox, with synthetic channel ids and ts so updates and threads work.
 *
 * A failure is "ambiguous" only when the request may have reached Slack: the adapter tracks, per request,
 * whether undici wrote it to a socket, so a refused connection, a failed DNS lookup or a connect timeout is
 * a plain retry while a timeout or reset after sending makes the deliverer look for the message first
 * (SlackLookup) instead of posting it twice.
 */
import { createHash, randomUUID } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
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
} from '../errors.js';

/** Slack message metadata: how the relay recognises its own root messages in a channel's history. */
export interface SlackMetadata {
  event_type: string;
  event_payload: Record<string, string>;
}

export interface SlackMessage {
  channel: string;
  text: string;
  attachments?: unknown[];
  blocks?: unknown[];
  thread_ts?: string;
  reply_broadcast?: boolean;
  metadata?: SlackMetadata;
}

/** A message as conversations.history lists it (only what the look-up needs). */
export interface SlackHistoryMessage {
  ts: string;
  thread_ts?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
}

/**
 * Finding a message whose post may or may not have reached Slack. Needs the channels:history and
 * groups:history scopes (and channels:read/groups:read to resolve a '#name', channels:join to join a
 * public channel the bot posts to without being a member); without them it throws
 * SlackLookupUnavailableError and the caller posts as before.
 */
export interface SlackLookup {
  /** Scopes the look-up needs that auth.test did not report, known after verify(); undefined before. */
  readonly missingScopes: readonly string[] | undefined;
  /** The id of a channel given as id or '#name', if this process has seen Slack answer with it. */
  knownChannelId(channel: string): string | undefined;
  /**
   * The id of a channel given as id or '#name'. conversations.history takes ids only, and the first post
   * addresses '#name': a name this process has not seen Slack answer for is looked up in conversations.list.
   */
  channelId(channel: string): Promise<string>;
  /** One page of top-level messages in (oldest, latest), newest first, with their metadata. */
  history(query: {
    channel: string;
    oldest: string;
    latest: string;
    limit: number;
    cursor?: string;
  }): Promise<{ messages: SlackHistoryMessage[]; nextCursor?: string }>;
  /** One page of a thread (conversations.replies): the parent, then replies in (oldest, latest), with metadata. */
  replies(query: {
    channel: string;
    ts: string;
    oldest: string;
    latest: string;
    limit: number;
    cursor?: string;
  }): Promise<{ messages: SlackHistoryMessage[]; nextCursor?: string }>;
  /** Joins a public channel (conversations.join); throws SlackLookupUnavailableError when it cannot. */
  join(channel: string): Promise<void>;
  /** Deletes a message; false when it was already gone. */
  deleteMessage(channel: string, ts: string): Promise<boolean>;
}

/** The scopes SlackLookup needs (deploy/slack-app-manifest.yaml). */
export const LOOKUP_SCOPES = ['channels:history', 'groups:history', 'channels:read', 'groups:read'] as const;

/** The look-up cannot run (scope, membership, unknown channel): the caller warns, counts and posts. */
export class SlackLookupUnavailableError extends Error {
  override name = 'SlackLookupUnavailableError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SlackPosted {
  channel: string;
  ts: string;
}

export interface SlackSender {
  readonly preview: boolean;
  /** Present when messages can be looked up (not in preview, where no send is ambiguous). */
  readonly lookup?: SlackLookup | undefined;
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

/** Errors that mean no connection was made, so the request cannot have reached Slack. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** A fetch that failed, and whether its request was written to a socket before it did. */
export class SlackRequestFailure extends Error {
  override name = 'SlackRequestFailure';
  constructor(
    readonly original: unknown,
    readonly maybeSent: boolean,
  ) {
    super(describeFetchError(original));
  }
}

function errorCode(error: unknown): string | undefined {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

function describeFetchError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = errorCode(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** Whether a failed request may have reached Slack; unknown counts as "may have". */
function mayHaveReachedSlack(original: unknown): boolean {
  if (original instanceof SlackRequestFailure) return original.maybeSent;
  const code = errorCode(original);
  return !(code && NOT_SENT_CODES.has(code));
}

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
  if (error instanceof WebAPIRequestError) {
    const original = error.original;
    const reason = original instanceof SlackRequestFailure ? original.message : describeFetchError(original);
    return new TransientDeliveryError(`Slack unreachable: ${reason}`, mayHaveReachedSlack(original));
  }
  // Anything else failed after Slack answered (reading the body): the request reached it.
  return new TransientDeliveryError(`Slack call failed: ${(error as Error).message}`, true);
}

/**
 * Which of our requests undici wrote to a socket, from its diagnostics channels (a documented undici
 * interface, published by Node's built-in fetch too). A request tagged with REQUEST_HEADER that undici
 * created but never sent cannot have reached Slack; one undici never reported is treated as sent.
 */
const REQUEST_HEADER = 'x-relay-request';
const tracked = new Map<string, { created: boolean; sent: boolean }>();
let tracking = false;

function requestIdOf(headers: unknown): string | undefined {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2)
      if (String(headers[i]).toLowerCase() === REQUEST_HEADER) return String(headers[i + 1]);
    return undefined;
  }
  if (typeof headers === 'string')
    return new RegExp(`^${REQUEST_HEADER}:\\s*(\\S+)`, 'im').exec(headers)?.[1];
  return undefined;
}

function trackRequests(): void {
  if (tracking) return;
  tracking = true;
  const mark = (field: 'created' | 'sent') => (message: unknown) => {
    const id = requestIdOf((message as { request?: { headers?: unknown } }).request?.headers);
    const state = id === undefined ? undefined : tracked.get(id);
    if (state) state[field] = true;
  };
  subscribe('undici:request:create', mark('created'));
  subscribe('undici:client:sendHeaders', mark('sent'));
}

/** fetch for WebClient: tags each request and turns a failure into a SlackRequestFailure that says if it was sent. */
const trackedFetch: typeof fetch = async (input, init) => {
  trackRequests();
  const id = randomUUID();
  const state = { created: false, sent: false };
  tracked.set(id, state);
  const headers = new Headers(init?.headers);
  headers.set(REQUEST_HEADER, id);
  try {
    return await fetch(input, { ...init, headers });
  } catch (error) {
    throw new SlackRequestFailure(error, state.sent || !state.created);
  } finally {
    tracked.delete(id);
  }
};

const channelNameOf = (channel: string) => channel.replace(/^#/, '');
/** Slack ids are upper case (C…, G…, D…); channel names cannot be. */
const isChannelId = (channel: string) => /^[CGD][A-Z0-9]+$/.test(channel);
const LIST_PAGE = 1000;
const LIST_MAX_PAGES = 20;

/** One page of conversations.history or .replies, in the shape the lookup reads. */
function pageOf(result: { messages?: unknown[]; response_metadata?: { next_cursor?: string } }): {
  messages: SlackHistoryMessage[];
  nextCursor?: string;
} {
  const nextCursor = result.response_metadata?.next_cursor;
  return {
    messages: (result.messages ?? []) as SlackHistoryMessage[],
    ...(nextCursor ? { nextCursor } : {}),
  };
}

export class WebApiSlackSender implements SlackSender, SlackLookup {
  readonly preview = false;
  readonly lookup: SlackLookup = this;
  missingScopes: readonly string[] | undefined;
  private readonly client: WebClient;
  /** Channel name → id, from Slack's own answers (a post's `channel`, conversations.list). */
  private readonly channelIds = new Map<string, string>();

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
      fetch: trackedFetch,
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
    if (!isChannelId(message.channel)) this.channelIds.set(channelNameOf(message.channel), result.channel);
    return { channel: result.channel, ts: result.ts };
  }

  async update(message: SlackMessage & { ts: string }): Promise<void> {
    const { thread_ts: _thread, reply_broadcast: _broadcast, ...rest } = message;
    await this.call(() => this.client.chat.update(rest as never));
  }

  async verify(): Promise<string> {
    const result = await this.call(() => this.client.auth.test());
    const scopes = result.response_metadata?.scopes;
    // Slack names the token's scopes in every answer (x-oauth-scopes); without the header nothing is known.
    this.missingScopes = scopes ? LOOKUP_SCOPES.filter((scope) => !scopes.includes(scope)) : undefined;
    return `${result.team ?? '?'} as ${result.user ?? '?'}`;
  }

  /** Calls a look-up method; a scope or membership problem becomes SlackLookupUnavailableError. */
  private async lookupCall<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof WebAPIPlatformError) {
        const { error: code, needed } = error.data as { error: string; needed?: string };
        if (code === 'missing_scope')
          throw new SlackLookupUnavailableError(code, `Slack: missing_scope ${needed ?? ''}`.trim());
        if (
          code === 'not_in_channel' ||
          code === 'channel_not_found' ||
          code === 'method_not_supported_for_channel_type'
        )
          throw new SlackLookupUnavailableError(code, `Slack: ${code}`);
      }
      throw classifySlackError(error);
    }
  }

  knownChannelId(channel: string): string | undefined {
    return isChannelId(channel) ? channel : this.channelIds.get(channelNameOf(channel));
  }

  async channelId(channel: string): Promise<string> {
    const known = this.knownChannelId(channel);
    if (known) return known;
    const name = channelNameOf(channel);
    let cursor: string | undefined;
    for (let page = 0; page < LIST_MAX_PAGES; page++) {
      const result = await this.lookupCall(() =>
        this.client.conversations.list({
          // Slack refuses the whole call when the scope of one requested type is missing.
          types: this.missingScopes?.includes('groups:read')
            ? 'public_channel'
            : 'public_channel,private_channel',
          exclude_archived: true,
          limit: LIST_PAGE,
          ...(cursor ? { cursor } : {}),
        }),
      );
      for (const c of result.channels ?? []) if (c.name && c.id) this.channelIds.set(c.name, c.id);
      const found = this.channelIds.get(name);
      if (found) return found;
      cursor = result.response_metadata?.next_cursor || undefined;
      if (!cursor) break;
    }
    throw new SlackLookupUnavailableError(
      'channel_not_found',
      `Slack: no channel named #${name} in conversations.list`,
    );
  }

  async history(query: {
    channel: string;
    oldest: string;
    latest: string;
    limit: number;
    cursor?: string;
  }): Promise<{ messages: SlackHistoryMessage[]; nextCursor?: string }> {
    return pageOf(
      await this.lookupCall(() =>
        this.client.conversations.history({ ...query, inclusive: true, include_all_metadata: true }),
      ),
    );
  }

  async replies(query: {
    channel: string;
    ts: string;
    oldest: string;
    latest: string;
    limit: number;
    cursor?: string;
  }): Promise<{ messages: SlackHistoryMessage[]; nextCursor?: string }> {
    return pageOf(
      await this.lookupCall(() =>
        this.client.conversations.replies({ ...query, inclusive: true, include_all_metadata: true }),
      ),
    );
  }

  async join(channel: string): Promise<void> {
    await this.lookupCall(() => this.client.conversations.join({ channel }));
  }

  async deleteMessage(channel: string, ts: string): Promise<boolean> {
    try {
      await this.client.chat.delete({ channel, ts });
      return true;
    } catch (error) {
      if (error instanceof WebAPIPlatformError && error.data.error === 'message_not_found') return false;
      throw classifySlackError(error);
    }
  }
}

/** The metadata a relay root message carries: enough to recognise it in the channel's history. */
export function rootMetadata(incidentId: string, deliveryId: string): SlackMetadata {
  return {
    event_type: 'relay_incident',
    event_payload: { incident_id: incidentId, delivery_id: deliveryId },
  };
}

/** A thread reply's metadata: `reply` names what it says (e.g. 'reminder:2'), the same on every retry. */
export function replyMetadata(incidentId: string, deliveryId: string, reply: string): SlackMetadata {
  return {
    event_type: 'relay_reply',
    event_payload: { incident_id: incidentId, delivery_id: deliveryId, reply },
  };
}

function carries(message: SlackHistoryMessage, metadata: SlackMetadata): boolean {
  return (
    message.metadata?.event_type === metadata.event_type &&
    Object.entries(metadata.event_payload).every(
      ([key, value]) => message.metadata?.event_payload?.[key] === value,
    )
  );
}

/** The ts of the messages carrying `metadata`, oldest first: top-level ones (a thread's parent names itself). */
export function rootsIn(messages: readonly SlackHistoryMessage[], metadata: SlackMetadata): string[] {
  return messages
    .filter((m) => (m.thread_ts === undefined || m.thread_ts === m.ts) && carries(m, metadata))
    .map((m) => m.ts)
    .sort(compareTs);
}

/** The ts of the thread replies carrying `metadata`, oldest first. */
export function repliesIn(messages: readonly SlackHistoryMessage[], metadata: SlackMetadata): string[] {
  return messages
    .filter((m) => m.thread_ts !== undefined && m.thread_ts !== m.ts && carries(m, metadata))
    .map((m) => m.ts)
    .sort(compareTs);
}

/** A Slack ts ('1795660000.000100') in microseconds: exact, unlike a Number of 16 digits. */
function tsMicros(ts: string): bigint {
  const [seconds = '0', fraction = ''] = ts.split('.');
  return BigInt(seconds) * 1_000_000n + BigInt(fraction.padEnd(6, '0').slice(0, 6));
}

export function compareTs(a: string, b: string): number {
  const difference = tsMicros(a) - tsMicros(b);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

/** A time (ms) as a Slack ts, for conversations.history's oldest/latest. */
export function tsOf(ms: number): string {
  const micros = BigInt(Math.max(0, Math.floor(ms))) * 1000n;
  return `${micros / 1_000_000n}.${String(micros % 1_000_000n).padStart(6, '0')}`;
}

/** Preview mode: what would have been sent, one JSON file per call. */
export class OutboxSlackSender implements SlackSender {
  readonly preview = true;
  private readonly dir: string;
  private counter = 0;

  /** The identity the real sender adds to every post (policy.slack_identity), so a preview shows it too. */
  constructor(
    outboxDir: string,
    private readonly identity: { username: string; icon_emoji: string } = {
      username: 'AlertManager',
      icon_emoji: ':fire:',
    },
  ) {
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
    this.write('chat.postMessage', { ...this.identity, ...message }, { ok: true, ...posted });
    return posted;
  }

  async update(message: SlackMessage & { ts: string }): Promise<void> {
    this.write('chat.update', message, { ok: true, channel: message.channel, ts: message.ts });
  }

  async verify(): Promise<string> {
    return `preview: writing Slack calls to ${this.dir}`;
  }
}
