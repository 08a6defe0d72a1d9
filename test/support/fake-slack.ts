/**
 * A fake Slack Web API on a real loopback port. The relay talks to it through the real @slack/web-api
 * WebClient (slackApiUrl = fake.url), so serialisation, headers, status handling and retries are all
 * exercised exactly as in production; only Slack's side is simulated.
 *
 * Methods: auth.test, chat.postMessage, chat.update, chat.delete, chat.postEphemeral, conversations.info,
 * conversations.history, conversations.replies, conversations.list, conversations.join. Like Slack, every answer carries the token's
 * scopes in `x-oauth-scopes`, and the methods that need a scope the token lacks answer `missing_scope`
 * (set `scopes` to take some away); conversations.history answers `not_in_channel` for a channel the bot
 * is not a member of (see `members`).
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pollUntil } from './poll.js';

/** Known Slack error codes for autocompletion; any other string is accepted too. */
export type SlackErrorCode =
  | 'invalid_blocks'
  | 'invalid_blocks_format'
  | 'not_in_channel'
  | 'channel_not_found'
  | 'invalid_auth'
  | 'not_authed'
  | 'account_inactive'
  | 'token_revoked'
  | 'is_archived'
  | 'msg_too_long'
  | 'no_text'
  | 'internal_error'
  | 'fatal_error'
  | (string & Record<never, never>);

export type SlackFault =
  /** HTTP 429 with Retry-After, as Slack's rate limiter answers. */
  | { kind: 'rateLimited'; retryAfterSeconds: number }
  /** A gateway/server failure: WebClient raises WebAPIHTTPError (and retries it unless retries is 0). */
  | { kind: 'http'; status: 500 | 502 | 503 | 504 }
  /** Never answer: the socket is held until the client gives up, reset() or close(). */
  | { kind: 'timeout' }
  /** HTTP 200 `{ok:false, error}`: WebClient raises WebAPIPlatformError. */
  | { kind: 'error'; error: SlackErrorCode }
  /**
   * Slack is slow to answer: the call is carried out at once (a post is committed and visible to
   * conversations.history) but the answer is sent only after `afterMs`, when a client with a shorter timeout
   * has given up. The call is recorded with the answer it was given (late). reset() and close() drop it.
   */
  | { kind: 'lateAnswer'; afterMs: number }
  /**
   * The connection is closed without an answer after the request arrived (the client sees a socket error,
   * as for a TCP reset). With `commit: true` the call is carried out first (a post is committed). Recorded
   * with status 0.
   */
  | { kind: 'reset'; commit?: boolean }
  /**
   * Slack commits the call only after the client has looked: the request is held unanswered (the client
   * times out) and carried out later, right after the next call to the same method has been answered,
   * or after `afterMs` when given. Recorded with status 0; the late message shows in `messages`.
   */
  | { kind: 'lateCommit'; afterMs?: number };

export interface SlackResponseBody {
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

export interface SlackCallResponse {
  /** 0 when nothing was answered: held by a timeout or lateCommit fault, or cut by a reset fault. */
  status: number;
  /** null when nothing was answered (timeout, lateCommit, reset faults). */
  body: SlackResponseBody | null;
}

export interface SlackCall {
  /** API method, e.g. 'chat.postMessage'; the raw path for requests outside /api/. */
  method: string;
  /**
   * Arguments as sent. Form values stay strings ('true', '1795660000.000100') except `blocks`,
   * `attachments` and `metadata`, which are JSON-decoded back into objects when they parse.
   */
  body: Record<string, unknown>;
  token: string | undefined;
  /** Receipt time from the `now` option (Date.now by default). */
  at: number;
  response: SlackCallResponse;
  /** The injected fault that produced the response, if any. */
  fault: SlackFault | undefined;
}

export interface FakeSlackMessage {
  ts: string;
  /** Channel id, never the name. */
  channel: string;
  text: string | undefined;
  blocks: unknown[] | undefined;
  attachments: unknown[] | undefined;
  metadata: unknown;
  /** Root message ts of the thread, for replies only. */
  thread_ts?: string;
  reply_broadcast?: boolean;
  /** How many chat.update calls succeeded against this message. */
  updates: number;
}

export interface RateLimitPerChannel {
  perSecond: number;
  retryAfterSeconds: number;
}

export interface FakeSlackOptions {
  /** Bot tokens accepted in `Authorization: Bearer`. Default `['xoxb-test-token']`. */
  tokens?: string[];
  /** Channel name (without '#') → id. Default: alerts-critical/warning/info/qa → C0CRIT/C0WARN/C0INFO/C0QA. */
  channels?: Record<string, string>;
  /** Per-channel pacing for chat.postMessage/chat.update, like Slack's ~1 message/s/channel limit. */
  rateLimitPerChannel?: RateLimitPerChannel;
  /** Clock for `at` and the per-channel limiter; injectable so pacing tests need not sleep. */
  now?: () => number;
  /** The bot token's scopes (sent in `x-oauth-scopes`; methods check theirs). Default DEFAULT_SLACK_SCOPES. */
  scopes?: string[];
  /** Channel ids the bot is a member of (conversations.history needs membership). Default: every channel. */
  members?: string[];
}

export interface FakeSlack {
  /** Base URL for WebClient's `slackApiUrl`, e.g. `http://127.0.0.1:PORT/api/`. */
  readonly url: string;
  readonly port: number;
  /** Every request in the order it was handled; cleared in place by reset(). */
  readonly calls: SlackCall[];
  /** Posted messages (top-level and replies) keyed by ts, in posting order; cleared in place by reset(). */
  readonly messages: Map<string, FakeSlackMessage>;
  /** Channel name → id as configured. */
  readonly channels: ReadonlyMap<string, string>;
  /** Number of 429 answers sent, from the per-channel limiter and from injected rateLimited faults. */
  readonly rateLimitedCount: number;
  /** Can be changed at runtime; undefined disables the limiter. */
  rateLimitPerChannel: RateLimitPerChannel | undefined;
  /** The token's scopes; can be changed at runtime (e.g. remove 'channels:history' to get missing_scope). */
  scopes: string[];
  /** Channel ids the bot is a member of; conversations.join adds to it. Can be changed at runtime. */
  readonly members: Set<string>;
  /** Messages removed by chat.delete, in deletion order; cleared in place by reset(). */
  readonly deleted: FakeSlackMessage[];
  /** Calls to one method, e.g. `callsTo('chat.postMessage')`. */
  callsTo(method: string): SlackCall[];
  /** Non-reply messages, optionally only those of one channel (id, name or #name). Broadcast replies are not included. */
  topLevelMessages(channel?: string): FakeSlackMessage[];
  /** Replies in the thread rooted at `ts`, oldest first. */
  replies(ts: string): FakeSlackMessage[];
  /**
   * Make the next `times` calls to `method` ('*' for any method) fail with `fault`. Faults queue in the
   * order given and are applied before authentication and validation, as transport failures would be.
   */
  failNext(method: string, fault: SlackFault, times?: number): void;
  /** Poll until `predicate` holds; a predicate that throws counts as not yet satisfied. */
  waitFor(predicate: (fake: FakeSlack) => boolean, timeoutMs?: number): Promise<void>;
  /**
   * Clears calls, messages, deleted messages, queued faults, limiter state and rateLimitedCount, drops held
   * requests and pending late commits, and restores the configured scopes and members.
   */
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_SLACK_TOKEN = 'xoxb-test-token';
/** The relay's bot scopes (deploy/slack-app-manifest.yaml). */
export const DEFAULT_SLACK_SCOPES: readonly string[] = [
  'chat:write',
  'chat:write.public',
  'chat:write.customize',
  'channels:read',
  'groups:read',
  'channels:history',
  'groups:history',
  'channels:join',
];
export const DEFAULT_SLACK_CHANNELS: Readonly<Record<string, string>> = {
  'alerts-critical': 'C0CRIT',
  'alerts-warning': 'C0WARN',
  'alerts-info': 'C0INFO',
  'alerts-qa': 'C0QA',
};

const TEAM = {
  team: 'Cold Chain',
  team_id: 'T0001',
  user: 'relay',
  user_id: 'U0001',
  bot_id: 'B0001',
} as const;
// Fields whose values WebClient JSON-encodes into a single form field.
const JSON_FIELDS = ['blocks', 'attachments', 'metadata'] as const;
const MAX_BLOCKS = 50;
const MAX_TEXT = 40_000;

interface Outcome {
  status: number;
  body: SlackResponseBody;
  headers?: Record<string, string>;
}

type Content =
  | { error: string }
  | {
      error?: undefined;
      text: string | undefined;
      blocks: unknown[] | undefined;
      attachments: unknown[] | undefined;
      metadata: unknown;
    };

const ok = (fields: Record<string, unknown> = {}): Outcome => ({
  status: 200,
  body: { ok: true, ...fields },
});
// Slack reports almost every failure as HTTP 200 with ok:false; WebClient relies on that.
const fail = (error: string): Outcome => ({ status: 200, body: { ok: false, error } });
/** The scope each scope-checked method needs (all fake channels are public). */
const NEEDED_SCOPE: Readonly<Record<string, string>> = {
  'conversations.history': 'channels:history',
  'conversations.replies': 'channels:history',
  'conversations.list': 'channels:read',
  'conversations.join': 'channels:join',
};
const HISTORY_MAX_LIMIT = 999;
const LIST_MAX_LIMIT = 1000;
const rateLimited = (retryAfterSeconds: number): Outcome => ({
  status: 429,
  headers: { 'retry-after': String(retryAfterSeconds) },
  body: { ok: false, error: 'ratelimited' },
});

function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function asFlag(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function summarize(call: SlackCall): string {
  if (call.response.status === 0) return `${call.method}(held)`;
  const error = call.response.body?.error;
  return `${call.method}(${call.response.status}${error ? `:${error}` : ''})`;
}

class FakeSlackServer implements FakeSlack {
  readonly calls: SlackCall[] = [];
  readonly messages = new Map<string, FakeSlackMessage>();
  readonly channels: ReadonlyMap<string, string>;
  rateLimitPerChannel: RateLimitPerChannel | undefined;
  scopes: string[];
  readonly members: Set<string>;
  readonly deleted: FakeSlackMessage[] = [];
  url = '';
  port = 0;

  private readonly server: Server;
  private readonly tokens: ReadonlySet<string>;
  private readonly channelIds: ReadonlySet<string>;
  private readonly now: () => number;
  private readonly faults: { method: string; fault: SlackFault; remaining: number }[] = [];
  private readonly lastAccepted = new Map<string, number>();
  private readonly held = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** lateCommit faults waiting for the next call to their method. */
  private readonly lateCommits: {
    method: string;
    args: Record<string, unknown>;
    token: string | undefined;
  }[] = [];
  private readonly configuredScopes: readonly string[];
  private readonly configuredMembers: readonly string[];
  private lastTsMicros = 0;
  private limited = 0;
  private closed: Promise<void> | undefined;

  constructor(options: FakeSlackOptions) {
    this.tokens = new Set(options.tokens ?? [DEFAULT_SLACK_TOKEN]);
    this.channels = new Map(Object.entries(options.channels ?? DEFAULT_SLACK_CHANNELS));
    this.channelIds = new Set(this.channels.values());
    this.rateLimitPerChannel = options.rateLimitPerChannel;
    this.configuredScopes = options.scopes ?? DEFAULT_SLACK_SCOPES;
    this.scopes = [...this.configuredScopes];
    this.configuredMembers = options.members ?? [...this.channelIds];
    this.members = new Set(this.configuredMembers);
    this.now = options.now ?? Date.now;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        // A bug in the fake must fail loudly in the test, not look like a Slack outage the relay survives.
        const message = error instanceof Error ? error.stack : String(error);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake-slack crashed: ${message}`);
      });
    });
  }

  get rateLimitedCount(): number {
    return this.limited;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    this.port = port;
    this.url = `http://127.0.0.1:${port}/api/`;
  }

  callsTo(method: string): SlackCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  topLevelMessages(channel?: string): FakeSlackMessage[] {
    const id = channel === undefined ? undefined : (this.resolveChannel(channel) ?? channel);
    return [...this.messages.values()].filter(
      (m) => m.thread_ts === undefined && (id === undefined || m.channel === id),
    );
  }

  replies(ts: string): FakeSlackMessage[] {
    return [...this.messages.values()].filter((m) => m.thread_ts === ts);
  }

  failNext(method: string, fault: SlackFault, times = 1): void {
    if (!Number.isInteger(times) || times < 1)
      throw new RangeError(`failNext: times must be a positive integer, got ${times}`);
    this.faults.push({ method, fault, remaining: times });
  }

  waitFor(predicate: (fake: FakeSlack) => boolean, timeoutMs = 5000): Promise<void> {
    return pollUntil(
      () => predicate(this),
      timeoutMs,
      () => {
        const seen = this.calls.length ? this.calls.map(summarize).join(', ') : 'none';
        return `fake-slack: waitFor timed out after ${timeoutMs}ms; ${this.calls.length} calls: ${seen}`;
      },
    );
  }

  reset(): void {
    this.calls.length = 0;
    this.messages.clear();
    this.deleted.length = 0;
    this.faults.length = 0;
    this.lateCommits.length = 0;
    this.scopes = [...this.configuredScopes];
    this.members.clear();
    for (const id of this.configuredMembers) this.members.add(id);
    this.lastAccepted.clear();
    this.limited = 0;
    // A request held for the previous test would otherwise leak into the next one's timing.
    this.releaseHeld();
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.releaseHeld();
      this.server.close(() => resolve());
      // fetch (undici) keeps idle keep-alive sockets open; without this close() would wait for them.
      this.server.closeAllConnections();
    });
    return this.closed;
  }

  private releaseHeld(): void {
    for (const res of this.held) res.socket?.destroy();
    this.held.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private hold(res: ServerResponse): void {
    this.held.add(res);
    res.on('close', () => this.held.delete(res));
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = this.now();
    const url = new URL(req.url ?? '/', 'http://fake-slack');
    const raw = await readBody(req);
    const token = bearer(req.headers.authorization);

    if (url.pathname.startsWith('/response/')) {
      // Interaction response_url (ephemeral answers to a button click): recorded with its JSON body.
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        // recorded as {} below
      }
      this.calls.push({
        method: url.pathname,
        body,
        token,
        at,
        response: { status: 200, body: { ok: true } },
        fault: undefined,
      });
      send(res, { status: 200, body: { ok: true } });
      return;
    }

    if (!url.pathname.startsWith('/api/')) {
      // Recorded so that a slackApiUrl missing '/api/' shows up in waitFor's timeout message.
      const body: SlackResponseBody = { ok: false, error: 'not_found' };
      this.calls.push({
        method: url.pathname,
        body: {},
        token,
        at,
        response: { status: 404, body },
        fault: undefined,
      });
      send(res, { status: 404, body });
      return;
    }

    const method = decodeURIComponent(url.pathname.slice('/api/'.length));
    const parsed = await parseArgs(raw, req.headers['content-type'], url.searchParams);
    const args = parsed.args;
    const callToken = token ?? asString(args.token);

    const fault = this.takeFault(method);
    const unanswered = { status: 0, body: null };
    if (fault?.kind === 'timeout' || fault?.kind === 'lateCommit') {
      this.calls.push({ method, body: args, token: callToken, at, response: unanswered, fault });
      this.hold(res);
      if (fault.kind === 'lateCommit') {
        const late = { method, args, token: callToken };
        if (fault.afterMs === undefined) this.lateCommits.push(late);
        else this.later(fault.afterMs, () => this.dispatch(method, args, callToken, this.now()));
      }
      return;
    }
    if (fault?.kind === 'reset') {
      if (fault.commit && !parsed.error) this.dispatch(method, args, callToken, at);
      this.calls.push({ method, body: args, token: callToken, at, response: unanswered, fault });
      req.socket.destroy();
      return;
    }

    let outcome: Outcome;
    if (fault && fault.kind !== 'lateAnswer') outcome = this.faultOutcome(fault);
    else if (parsed.error) outcome = fail(parsed.error);
    else outcome = this.dispatch(method, args, callToken, at);

    if (outcome.status === 429) this.limited++;
    this.calls.push({
      method,
      body: args,
      token: callToken,
      at,
      response: { status: outcome.status, body: outcome.body },
      fault,
    });
    this.commitLate(method);
    const answer = { ...outcome, headers: { 'x-oauth-scopes': this.scopes.join(','), ...outcome.headers } };
    if (fault?.kind === 'lateAnswer') {
      this.hold(res);
      this.later(fault.afterMs, () => {
        if (!res.destroyed) send(res, answer);
      });
      return;
    }
    send(res, answer);
  }

  /** Carries out the lateCommit calls that waited for this method's next call. */
  private commitLate(method: string): void {
    const due = this.lateCommits.filter((late) => late.method === method);
    if (!due.length) return;
    this.lateCommits.splice(
      0,
      this.lateCommits.length,
      ...this.lateCommits.filter((l) => l.method !== method),
    );
    for (const late of due) this.dispatch(late.method, late.args, late.token, this.now());
  }

  private takeFault(method: string): SlackFault | undefined {
    const index = this.faults.findIndex((f) => f.method === method || f.method === '*');
    const entry = this.faults[index];
    if (!entry) return undefined;
    entry.remaining--;
    if (entry.remaining <= 0) this.faults.splice(index, 1);
    return entry.fault;
  }

  private faultOutcome(
    fault: Exclude<SlackFault, { kind: 'timeout' | 'lateAnswer' | 'reset' | 'lateCommit' }>,
  ): Outcome {
    switch (fault.kind) {
      case 'rateLimited':
        return rateLimited(fault.retryAfterSeconds);
      case 'http':
        return { status: fault.status, body: { ok: false, error: `fake_http_${fault.status}` } };
      case 'error':
        return fail(fault.error);
    }
  }

  private dispatch(
    method: string,
    args: Record<string, unknown>,
    token: string | undefined,
    at: number,
  ): Outcome {
    if (method === 'api.test') return ok({ args });
    const handler = this.handlers[method];
    if (!handler) return fail('unknown_method');
    if (token === undefined) return fail('not_authed');
    if (!this.tokens.has(token)) return fail('invalid_auth');
    const needed = NEEDED_SCOPE[method];
    if (needed && !this.scopes.includes(needed))
      return {
        status: 200,
        body: { ok: false, error: 'missing_scope', needed, provided: this.scopes.join(',') },
      };
    return handler(args, at);
  }

  private readonly handlers: Record<string, (args: Record<string, unknown>, at: number) => Outcome> = {
    'auth.test': () => ok({ url: 'https://cold-chain.slack.com/', ...TEAM, is_enterprise_install: false }),
    'chat.postMessage': (args, at) => this.postMessage(args, at),
    'chat.update': (args, at) => this.update(args, at),
    'chat.delete': (args) => this.deleteMessage(args),
    'conversations.history': (args) => this.history(args),
    'conversations.replies': (args) => this.threadReplies(args),
    'conversations.list': (args) => this.list(args),
    'conversations.join': (args) => {
      const id = asString(args.channel);
      const name = this.nameOf(id);
      if (id === undefined || name === undefined) return fail('channel_not_found');
      const already = this.members.has(id);
      this.members.add(id);
      return ok({
        channel: this.channelObject(id, name),
        ...(already ? { warning: 'already_in_channel' } : {}),
      });
    },
    'chat.postEphemeral': (args) => {
      const channel = this.resolveChannel(args.channel);
      if (!channel) return fail('channel_not_found');
      if (asString(args.user) === undefined) return fail('user_not_in_channel');
      return ok({ message_ts: this.nextTs() });
    },
    'conversations.info': (args) => {
      // Like Slack, conversations.info only takes an id.
      const id = asString(args.channel);
      const name = this.nameOf(id);
      if (id === undefined || name === undefined) return fail('channel_not_found');
      return ok({ channel: this.channelObject(id, name) });
    },
  };

  private nameOf(id: string | undefined): string | undefined {
    return [...this.channels].find(([, channelId]) => channelId === id)?.[0];
  }

  private channelObject(id: string, name: string): Record<string, unknown> {
    return {
      id,
      name,
      is_channel: true,
      is_private: false,
      is_archived: false,
      is_member: this.members.has(id),
    };
  }

  /**
   * Like Slack: an id only (a '#name' is channel_not_found), newest first, top-level messages and broadcast
   * replies, `oldest`/`latest` exclusive unless `inclusive`, pages of `limit` (default 100) with a cursor,
   * and each message's metadata only with `include_all_metadata`.
   */
  private history(args: Record<string, unknown>): Outcome {
    const id = asString(args.channel);
    if (id === undefined || !this.channelIds.has(id)) return fail('channel_not_found');
    if (!this.members.has(id)) return fail('not_in_channel');
    const inRange = rangeOf(args);
    if (!inRange) return fail('invalid_ts_oldest');
    const matching = [...this.messages.values()]
      .filter((m) => m.channel === id && (m.thread_ts === undefined || m.reply_broadcast))
      .filter((m) => inRange(m.ts))
      .sort((a, b) => ((tsMicros(b.ts) as bigint) > (tsMicros(a.ts) as bigint) ? 1 : -1));
    const page = this.page(matching, args, 100, HISTORY_MAX_LIMIT);
    if ('error' in page) return fail(page.error);
    return ok({
      messages: page.items.map((m) => wireListed(m, asFlag(args.include_all_metadata))),
      has_more: page.nextCursor !== '',
      pin_count: 0,
      response_metadata: { next_cursor: page.nextCursor },
    });
  }

  /**
   * A thread, oldest first: the parent message, then the replies within oldest/latest (same rules as
   * history). Needs the channel id and membership, and the parent's ts.
   */
  private threadReplies(args: Record<string, unknown>): Outcome {
    const id = asString(args.channel);
    if (id === undefined || !this.channelIds.has(id)) return fail('channel_not_found');
    if (!this.members.has(id)) return fail('not_in_channel');
    const parent = this.messages.get(asString(args.ts) ?? '');
    if (!parent || parent.channel !== id || parent.thread_ts !== undefined) return fail('thread_not_found');
    const inRange = rangeOf(args);
    if (!inRange) return fail('invalid_ts_oldest');
    const thread = [parent, ...this.replies(parent.ts).filter((m) => inRange(m.ts))];
    const page = this.page(thread, args, 1000, 1000);
    if ('error' in page) return fail(page.error);
    return ok({
      messages: page.items.map((m) => wireListed(m, asFlag(args.include_all_metadata))),
      has_more: page.nextCursor !== '',
      response_metadata: { next_cursor: page.nextCursor },
    });
  }

  private list(args: Record<string, unknown>): Outcome {
    const types = (asString(args.types) ?? 'public_channel').split(',').map((t) => t.trim());
    // Every fake channel is a public one.
    const channels = types.includes('public_channel')
      ? [...this.channels].map(([name, id]) => this.channelObject(id, name))
      : [];
    const page = this.page(channels, args, 100, LIST_MAX_LIMIT);
    if ('error' in page) return fail(page.error);
    return ok({ channels: page.items, response_metadata: { next_cursor: page.nextCursor } });
  }

  private page<T>(
    items: T[],
    args: Record<string, unknown>,
    defaultLimit: number,
    maxLimit: number,
  ): { items: T[]; nextCursor: string } | { error: string } {
    const limit = Math.min(maxLimit, Number(asString(args.limit) ?? defaultLimit) || defaultLimit);
    const cursor = asString(args.cursor);
    const offset = cursor ? Number(/^off:(\d+)$/.exec(cursor)?.[1] ?? Number.NaN) : 0;
    if (!Number.isInteger(offset)) return { error: 'invalid_cursor' };
    const slice = items.slice(offset, offset + limit);
    return { items: slice, nextCursor: offset + limit < items.length ? `off:${offset + limit}` : '' };
  }

  private deleteMessage(args: Record<string, unknown>): Outcome {
    // Like chat.update, chat.delete takes the channel id only.
    const channel = asString(args.channel);
    if (channel === undefined || !this.channelIds.has(channel)) return fail('channel_not_found');
    const ts = asString(args.ts);
    const message = ts === undefined ? undefined : this.messages.get(ts);
    if (!message || message.channel !== channel) return fail('message_not_found');
    this.messages.delete(message.ts);
    this.deleted.push(message);
    return ok({ channel, ts: message.ts });
  }

  private postMessage(args: Record<string, unknown>, at: number): Outcome {
    const channel = this.resolveChannel(args.channel);
    if (!channel) return fail('channel_not_found');
    const limited = this.checkRateLimit(channel, at);
    if (limited) return limited;
    const content = readContent(args);
    if (content.error !== undefined) return fail(content.error);
    if (!content.text && !content.blocks?.length && !content.attachments?.length) return fail('no_text');

    let threadTs: string | undefined;
    const requestedThread = asString(args.thread_ts);
    if (requestedThread !== undefined && requestedThread !== '') {
      const parent = this.messages.get(requestedThread);
      if (!parent || parent.channel !== channel) return fail('thread_not_found');
      // Replying to a reply lands in the same thread, as in Slack.
      threadTs = parent.thread_ts ?? parent.ts;
    }

    const ts = this.nextTs();
    const message: FakeSlackMessage = {
      ts,
      channel,
      text: content.text,
      blocks: content.blocks,
      attachments: content.attachments,
      metadata: content.metadata,
      updates: 0,
    };
    if (threadTs !== undefined) {
      message.thread_ts = threadTs;
      message.reply_broadcast = asFlag(args.reply_broadcast);
    }
    this.messages.set(ts, message);
    this.lastAccepted.set(channel, at);
    return ok({ channel, ts, message: wireMessage(message) });
  }

  private update(args: Record<string, unknown>, at: number): Outcome {
    // chat.update resolves only ids; a '#name' that works for postMessage is channel_not_found here.
    const channel = asString(args.channel);
    if (channel === undefined || !this.channelIds.has(channel)) return fail('channel_not_found');
    const ts = asString(args.ts);
    const message = ts === undefined ? undefined : this.messages.get(ts);
    if (!message || message.channel !== channel) return fail('message_not_found');
    const limited = this.checkRateLimit(channel, at);
    if (limited) return limited;
    const content = readContent(args);
    if (content.error !== undefined) return fail(content.error);
    if (content.text === undefined && content.blocks === undefined && content.attachments === undefined) {
      return fail('no_text');
    }
    // Omitted fields keep their previous value, as Slack does; an empty array clears blocks/attachments.
    if (content.text !== undefined) message.text = content.text;
    if (content.blocks !== undefined) message.blocks = content.blocks;
    if (content.attachments !== undefined) message.attachments = content.attachments;
    if (content.metadata !== undefined) message.metadata = content.metadata;
    message.updates++;
    this.lastAccepted.set(channel, at);
    return ok({ channel, ts: message.ts, text: message.text ?? '', message: wireMessage(message) });
  }

  private checkRateLimit(channel: string, at: number): Outcome | undefined {
    const limit = this.rateLimitPerChannel;
    const last = this.lastAccepted.get(channel);
    if (!limit || last === undefined) return undefined;
    if (at - last < 1000 / limit.perSecond) return rateLimited(limit.retryAfterSeconds);
    return undefined;
  }

  private resolveChannel(value: unknown): string | undefined {
    const channel = asString(value);
    if (channel === undefined) return undefined;
    if (channel.startsWith('#')) return this.channels.get(channel.slice(1));
    return this.channels.get(channel) ?? (this.channelIds.has(channel) ? channel : undefined);
  }

  // Real-time based like Slack's, but strictly increasing so that ts works as a unique key.
  private nextTs(): string {
    this.lastTsMicros = Math.max(Date.now() * 1000, this.lastTsMicros + 100);
    const seconds = Math.floor(this.lastTsMicros / 1e6);
    const micros = this.lastTsMicros % 1e6;
    return `${seconds}.${String(micros).padStart(6, '0')}`;
  }
}

/** A ts ('1795660000.000100') as microseconds, exact (a double cannot hold 16 digits); undefined if malformed. */
function tsMicros(ts: string): bigint | undefined {
  const match = /^(\d+)(?:\.(\d{1,6}))?$/.exec(ts);
  if (!match) return undefined;
  return BigInt(match[1] as string) * 1_000_000n + BigInt((match[2] ?? '').padEnd(6, '0'));
}

/** The oldest/latest/inclusive filter of conversations.history and .replies; undefined for a malformed ts. */
function rangeOf(args: Record<string, unknown>): ((ts: string) => boolean) | undefined {
  const inclusive = asFlag(args.inclusive);
  const oldest = tsMicros(asString(args.oldest) ?? '0');
  const latestArg = asString(args.latest);
  const latest = latestArg === undefined ? undefined : tsMicros(latestArg);
  if (oldest === undefined || (latestArg !== undefined && latest === undefined)) return undefined;
  return (value) => {
    const ts = tsMicros(value) as bigint;
    return (
      (inclusive ? ts >= oldest : ts > oldest) &&
      (latest === undefined || (inclusive ? ts <= latest : ts < latest))
    );
  };
}

/** A message as history and replies list it: its metadata only when asked for. */
function wireListed(message: FakeSlackMessage, withMetadata: boolean): Record<string, unknown> {
  const wire = wireMessage(message);
  if (!withMetadata) delete wire.metadata;
  return wire;
}

function wireMessage(message: FakeSlackMessage): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    type: 'message',
    user: TEAM.user_id,
    bot_id: TEAM.bot_id,
    team: TEAM.team_id,
    ts: message.ts,
    text: message.text ?? '',
  };
  if (message.blocks !== undefined) wire.blocks = message.blocks;
  if (message.attachments !== undefined) wire.attachments = message.attachments;
  if (message.metadata !== undefined) wire.metadata = message.metadata;
  if (message.thread_ts !== undefined) wire.thread_ts = message.thread_ts;
  if (message.updates > 0) wire.edited = { user: TEAM.user_id, ts: message.ts };
  return wire;
}

// Mirrors the checks of Slack that a relay can realistically trip over when rendering alerts.
function readContent(args: Record<string, unknown>): Content {
  const text = asString(args.text);
  if (text !== undefined && text.length > MAX_TEXT) return { error: 'msg_too_long' };

  let blocks: unknown[] | undefined;
  if (args.blocks !== undefined) {
    if (!Array.isArray(args.blocks)) return { error: 'invalid_blocks_format' };
    const valid = args.blocks.every((block) => isRecord(block) && typeof block.type === 'string');
    if (!valid || args.blocks.length > MAX_BLOCKS) return { error: 'invalid_blocks' };
    blocks = args.blocks;
  }

  let attachments: unknown[] | undefined;
  if (args.attachments !== undefined) {
    if (!Array.isArray(args.attachments)) return { error: 'invalid_attachments' };
    attachments = args.attachments;
  }

  return { text, blocks, attachments, metadata: args.metadata };
}

function bearer(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function parseArgs(
  raw: Buffer,
  contentType: string | undefined,
  query: URLSearchParams,
): Promise<{ args: Record<string, unknown>; error?: string }> {
  const args: Record<string, unknown> = Object.fromEntries(query);
  const type = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';

  if (type === 'application/json') {
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return { args, error: 'invalid_json' };
    }
    if (!isRecord(body)) return { args, error: 'invalid_json' };
    return { args: { ...args, ...body } };
  }

  if (type === 'multipart/form-data') {
    // Only file uploads use multipart; undici's parser saves hand-rolling one.
    try {
      const form = await new Response(new Uint8Array(raw), {
        headers: { 'content-type': contentType ?? '' },
      }).formData();
      for (const [key, value] of form) args[key] = value;
    } catch {
      return { args, error: 'invalid_form_data' };
    }
  } else if (raw.length > 0) {
    for (const [key, value] of new URLSearchParams(raw.toString('utf8'))) args[key] = value;
  }

  for (const field of JSON_FIELDS) {
    const value = args[field];
    if (typeof value !== 'string') continue;
    try {
      args[field] = JSON.parse(value);
    } catch {
      // Left as a string so the handler rejects it the way Slack rejects malformed JSON fields.
    }
  }
  return { args };
}

function send(res: ServerResponse, outcome: Outcome): void {
  const payload = JSON.stringify(outcome.body);
  res.writeHead(outcome.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...outcome.headers,
  });
  res.end(payload);
}

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = new FakeSlackServer(options);
  await fake.listen();
  return fake;
}
