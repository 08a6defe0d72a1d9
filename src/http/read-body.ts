/**
 * Reads a request body up to a byte limit. Hono's bodyLimit touches `c.req.raw.body`, which makes the Node
 * adapter build a full Web Request and cost ~4× throughput (DESIGN.md §Performance notes), so on Node the
 * body is read straight from the IncomingMessage: Content-Length is checked before any byte is read, and a
 * chunked body is counted as it arrives and refused as soon as it passes the limit.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { ApiError } from './errors.js';

function tooLarge(limit: number): ApiError {
  return new ApiError(
    'payload_too_large',
    `request body is larger than ${limit} bytes (RELAY_MAX_BODY_BYTES)`,
  );
}

/**
 * The client went away before its body was complete (closed the connection, timed out on its side). Not a
 * server error: nobody is left to answer, so it is counted as aborted and logged at debug.
 */
export class ClientAbortedError extends Error {
  override name = 'ClientAbortedError';
  constructor(readonly received: number) {
    super(`the client went away after ${received} bytes of its body`);
  }
}

export function checkDeclaredLength(c: Context, limit: number): void {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
}

async function readIncoming(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of incoming as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        incoming.pause();
        throw tooLarge(limit);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    // A stream that fails while reading a request body fails because its socket did (ECONNRESET "aborted").
    throw new ClientAbortedError(size);
  }
  // Node ends an aborted request's stream without an error in some versions: a short body is an abort too.
  if (incoming.complete === false) throw new ClientAbortedError(size);
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}

async function readWebStream(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read().catch(() => {
      throw new ClientAbortedError(size);
    });
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

export async function readBody(c: Context, limit: number): Promise<Buffer> {
  checkDeclaredLength(c, limit);
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming ? readIncoming(incoming, limit) : readWebStream(c.req.raw.body, limit);
}
