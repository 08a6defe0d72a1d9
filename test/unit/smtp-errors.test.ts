import { describe, expect, it } from 'vitest';
import { classifySmtpError } from '../../src/channels/email/sender.js';
import { PermanentDeliveryError, TransientDeliveryError } from '../../src/channels/errors.js';

/** The shapes nodemailer's SMTPConnection gives its errors (code, originalCode, responseCode). */
const error = (fields: Record<string, unknown>) => Object.assign(new Error('x'), fields);
const ambiguous = (e: Error) => e instanceof TransientDeliveryError && e.ambiguous;

describe('classifySmtpError', () => {
  it('only a failure without an answer after the message went out is ambiguous', () => {
    expect(ambiguous(classifySmtpError(error({ code: 'ETIMEDOUT' }), 'message'))).toBe(true);
    expect(ambiguous(classifySmtpError(error({ code: 'ECONNECTION' }), 'message'))).toBe(true);
    for (const phase of ['connect', 'envelope'] as const) {
      for (const fields of [
        { code: 'ESOCKET', originalCode: 'ECONNREFUSED' },
        { code: 'EDNS', originalCode: 'ENOTFOUND' },
        { code: 'ETIMEDOUT', timeoutType: 'CONNECT_TIMEOUT' },
        { code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT' },
        { code: 'EDEADLINE' },
      ]) {
        const classified = classifySmtpError(error(fields), phase);
        expect(classified, `${phase} ${JSON.stringify(fields)}`).toBeInstanceOf(TransientDeliveryError);
        expect(ambiguous(classified), `${phase} ${JSON.stringify(fields)}`).toBe(false);
      }
    }
    expect(
      classifySmtpError(error({ code: 'ESOCKET', originalCode: 'ECONNREFUSED' }), 'connect').message,
    ).toContain('ECONNREFUSED');
  });

  it('a reply is an answer in any phase: 4xx transient, 5xx permanent, never ambiguous', () => {
    for (const phase of ['connect', 'envelope', 'message'] as const) {
      const busy = classifySmtpError(error({ code: 'EMESSAGE', responseCode: 451 }), phase);
      expect(busy).toBeInstanceOf(TransientDeliveryError);
      expect(ambiguous(busy)).toBe(false);
      expect(classifySmtpError(error({ code: 'EENVELOPE', responseCode: 550 }), phase)).toBeInstanceOf(
        PermanentDeliveryError,
      );
    }
  });

  it('refused credentials and messages nodemailer itself refuses are permanent', () => {
    expect(classifySmtpError(error({ code: 'EAUTH' }), 'connect')).toBeInstanceOf(PermanentDeliveryError);
    expect(classifySmtpError(error({ code: 'EMESSAGE' }), 'envelope')).toBeInstanceOf(PermanentDeliveryError);
  });
});
