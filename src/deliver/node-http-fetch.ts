/**
 * A `fetch` for the Slack Web API client over node:http(s) with a keep-alive agent, instead of Node's built-in
 * fetch (undici). Measured (BENCHMARKS.md, "Soak"): the same 8,000 chat.postMessage-sized calls took a
 * process from 44 MB to about 125 MB RSS through the built-in fetch and to about 60 MB through node:http, at
 * any concurrency, because undici's fetch allocates several times more per call (Web streams, Request and
 * Response objects) and the heap grows to hold that garbage. The relay makes one such call per Slack
 * message, so under load it paid that cost for nothing: it only needs a request, a status, headers and a
 * buffered JSON body.
 *
 * Only what WebClient uses is implemented: POST or GET with a string or Buffer body, an AbortSignal, and a
 * response with status, statusText, url, headers, text(), json(), arrayBuffer(). Redirects are not
 * followed (WebClient asks for `redirect: 'error'`; a 3xx is then a non-200 answer, which it refuses).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** Told when the request got a socket and when it was written out, so a failure can say if it was sent. */
export interface RequestProgress {
  created?: boolean;
  sent?: boolean;
}

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32 });

function headersOf(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

function bodyOf(body: unknown): string | Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // FormData (file uploads) and streams: the relay makes no such call.
  throw new TypeError('node-http-fetch: only string, Buffer and URLSearchParams bodies are supported');
}

export function nodeHttpFetch(
  input: string | URL | Request,
  init: RequestInit = {},
  progress: RequestProgress = {},
): Promise<Response> {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const https = url.protocol === 'https:';
  const body = bodyOf(init.body);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => {
    headers[name] = value;
  });
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise<Response>((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      url,
      {
        method: init.method ?? 'GET',
        headers,
        agent: https ? httpsAgent : httpAgent,
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          const response = {
            ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300,
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            url: url.toString(),
            redirected: false,
            headers: headersOf(res.headers),
            text: async () => buffer.toString('utf8'),
            json: async () => JSON.parse(buffer.toString('utf8')) as unknown,
            arrayBuffer: async () =>
              buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength),
          };
          resolve(response as unknown as Response);
        });
      },
    );
    progress.created = true;
    // 'finish': the whole request was handed to the socket, so it may have reached the server.
    req.once('finish', () => {
      progress.sent = true;
    });
    req.on('error', reject);
    req.end(body);
  });
}
