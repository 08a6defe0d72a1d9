/**
 * Direct unit tests (issue 11) for helpers that were only exercised through integration: Slack error
 * classification, the retry backoff, which response_url a Slack click may send us to, and duration parsing.
 * (SMTP error classification: smtp-errors.test.ts.)
 */
import {
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
} from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import {
  InvalidBlocksError,
  PermanentDeliveryError,
  RateLimitedError,
  TransientDeliveryError,
} from '../../src/channels/errors.js';
import { allowedResponseUrl } from '../../src/channels/slack/interactions.js';
import { classifySlackError, SlackRequestFailure } from '../../src/channels/slack/sender.js';
import { backoffDelay } from '../../src/deliver/worker.js';
import { formatDuration, parseDuration } from '../../src/domain/duration.js';

const withCode = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe('classifySlackError', () => {
  it('turns a 429 into a wait of Retry-After seconds (at least one) that spends no attempt', () => {
    const wait = classifySlackError(new WebAPIRateLimitedError(7));
    expect(wait).toBeInstanceOf(RateLimitedError);
    expect((wait as RateLimitedError).waitMs).toBe(7000);
    expect((wait as RateLimitedError).reason).toBe('429');
    expect((classifySlackError(new WebAPIRateLimitedError(0)) as RateLimitedError).waitMs).toBe(1000);
  });

  it('sorts platform errors: bad blocks are resent as text, bad tokens and channels are permanent, the rest transient', () => {
    const platform = (error: string) => classifySlackError(new WebAPIPlatformError({ ok: false, error }));
    expect(platform('invalid_blocks')).toBeInstanceOf(InvalidBlocksError);
    expect(platform('invalid_attachments')).toBeInstanceOf(InvalidBlocksError);
    expect(platform('invalid_auth')).toBeInstanceOf(PermanentDeliveryError);
    expect(platform('token_revoked').message).toBe('Slack: token_revoked');
    const other = platform('internal_error');
    expect(other).toBeInstanceOf(TransientDeliveryError);
    expect((other as TransientDeliveryError).ambiguous).toBe(false);
  });

  it('treats HTTP 4xx as permanent except 408 and 429, and 5xx as transient', () => {
    const http = (status: number) => classifySlackError(new WebAPIHTTPError(status, 'x', {}));
    expect(http(400)).toBeInstanceOf(PermanentDeliveryError);
    expect(http(404)).toBeInstanceOf(PermanentDeliveryError);
    expect(http(408)).toBeInstanceOf(TransientDeliveryError);
    expect(http(429)).toBeInstanceOf(TransientDeliveryError);
    expect(http(503)).toBeInstanceOf(TransientDeliveryError);
    expect(http(503).message).toBe('Slack answered HTTP 503');
  });

  it('marks a request failure ambiguous unless the request surely never left', () => {
    const refused = classifySlackError(new WebAPIRequestError(withCode('ECONNREFUSED')));
    expect(refused).toBeInstanceOf(TransientDeliveryError);
    expect((refused as TransientDeliveryError).ambiguous).toBe(false);
    const reset = classifySlackError(new WebAPIRequestError(withCode('ECONNRESET')));
    expect((reset as TransientDeliveryError).ambiguous).toBe(true);
    expect(reset.message).toContain('Slack unreachable');
    const notSent = classifySlackError(
      new WebAPIRequestError(new SlackRequestFailure(new Error('x'), false)),
    );
    expect((notSent as TransientDeliveryError).ambiguous).toBe(false);
    const sent = classifySlackError(new WebAPIRequestError(new SlackRequestFailure(new Error('x'), true)));
    expect((sent as TransientDeliveryError).ambiguous).toBe(true);
  });

  it('counts any other failure as after Slack answered: transient and ambiguous', () => {
    const late = classifySlackError(new Error('body stream ended'));
    expect(late).toBeInstanceOf(TransientDeliveryError);
    expect((late as TransientDeliveryError).ambiguous).toBe(true);
  });
});

describe('backoffDelay', () => {
  it('doubles from the first delay up to the maximum, with jitter over the upper half', () => {
    const low = () => 0;
    const high = () => 1;
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 2, 300, high))).toEqual([2000, 4000, 8000, 16000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 2, 300, low))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffDelay(20, 2, 300, high)).toBe(300_000);
    expect(backoffDelay(20, 2, 300, low)).toBe(150_000);
    // attemptsMade 0 (before the first failure is counted) waits like the first retry.
    expect(backoffDelay(0, 2, 300, high)).toBe(2000);
  });
});

describe('allowedResponseUrl', () => {
  const api = 'https://slack.com/api/';
  it("follows only Slack's hooks over https, or the configured Slack API origin", () => {
    expect(allowedResponseUrl('https://hooks.slack.com/actions/T/1/x', api)).toBe(
      'https://hooks.slack.com/actions/T/1/x',
    );
    expect(allowedResponseUrl('http://hooks.slack.com/actions/T/1/x', api)).toBeUndefined();
    expect(allowedResponseUrl('https://hooks.slack.com.evil.example/x', api)).toBeUndefined();
    expect(allowedResponseUrl('https://169.254.169.254/latest/meta-data', api)).toBeUndefined();
    expect(allowedResponseUrl('http://127.0.0.1:9999/response/1', 'http://127.0.0.1:9999/api/')).toBe(
      'http://127.0.0.1:9999/response/1',
    );
    expect(
      allowedResponseUrl('http://127.0.0.1:9998/response/1', 'http://127.0.0.1:9999/api/'),
    ).toBeUndefined();
    expect(allowedResponseUrl('not a url', api)).toBeUndefined();
    expect(allowedResponseUrl(undefined, api)).toBeUndefined();
  });
});

describe('parseDuration', () => {
  it('reads Prometheus-style durations into seconds', () => {
    expect(parseDuration('30s')).toBe(30);
    expect(parseDuration('5m')).toBe(300);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('250ms')).toBe(0.25);
    expect(parseDuration('1d')).toBe(86400);
    expect(parseDuration(' 2h ')).toBe(7200);
    expect(parseDuration('never')).toBe(0);
    expect(parseDuration('0')).toBe(0);
  });

  it('refuses anything else', () => {
    for (const text of ['', '5', '5 m', '5min', '-5m', 'm5', '1h 30m', '1h30'])
      expect(parseDuration(text)).toBeUndefined();
  });

  it('is the inverse of formatDuration', () => {
    for (const seconds of [1, 59, 60, 3661, 86400, 90061])
      expect(parseDuration(formatDuration(seconds))).toBe(seconds);
  });
});
