import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines, one object per event: a label value can never forge a log line because it is always a
 * JSON string value, never raw text. Secrets are redacted wherever they might be attached.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'coldchain-alert-relay' },
      redact: {
        paths: [
          'token',
          'password',
          'authorization',
          'headers.authorization',
          'req.headers.authorization',
          '*.token',
          'smtpUrl',
          'redisUrl',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
