/** One error vocabulary for every endpoint: a code, a message, and for schema errors the bad fields. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const ERROR_STATUS = {
  unauthorized: 401,
  not_found: 404,
  payload_too_large: 413,
  unsupported_media_type: 415,
  bad_json: 400,
  invalid_query: 400,
  invalid_payload: 422,
  unavailable: 503,
  internal: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorIssue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: ErrorIssue[],
  ) {
    super(message);
  }
}

export function errorResponse(c: Context, error: ApiError): Response {
  const body = {
    error: { code: error.code, message: error.message, ...(error.issues ? { issues: error.issues } : {}) },
  };
  if (error.code === 'unavailable') c.header('Retry-After', '5');
  // An oversized body may still be streaming in; closing is cheaper than draining it.
  if (error.code === 'payload_too_large') c.header('Connection', 'close');
  return c.json(body, ERROR_STATUS[error.code]);
}
