import type { z } from 'zod';
import { CircuitBreaker } from './circuit-breaker.js';
import { describeError } from './config-file.js';
import { ContextLookupError } from './context-lookup-error.js';
import { apiShipmentSchema, apiVehicleSchema } from './fleet-schema.js';
import type { ContextCache, ContextProvider, Shipment, Vehicle } from './types.js';

export interface HttpContextProviderOptions {
  /** `CONTEXT_API_URL`, e.g. `https://dispatch.internal/api/v1`. */
  baseUrl: string;
  /** Per request, including reading the body. */
  timeoutMs?: number;
  cache?: ContextCache;
  cacheTtlSeconds?: number;
  /** Shorter, so a vehicle registered a minute ago shows up soon. */
  notFoundTtlSeconds?: number;
  /** A slow cache must not cost more than the lookup it saves. */
  cacheTimeoutMs?: number;
  breaker?: CircuitBreaker;
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

type ParseEntity<T> = (data: unknown) => { ok: true; value: T } | { ok: false; problem: string };

// Stored for a 404, so unknown ids are cached too and do not hit the API on every notification.
const NOT_FOUND = 'null';

/**
 * Reads vehicles and shipments from the dispatch system's API:
 * `GET {base}/vehicles/{id}` and `GET {base}/shipments/{id}`, 404 meaning "not known".
 * Failures throw ContextLookupError; resolveAssetContext turns them into "context unavailable".
 */
export class HttpContextProvider implements ContextProvider {
  readonly breaker: CircuitBreaker;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly cache: ContextCache | undefined;
  private readonly cacheTtlSeconds: number;
  private readonly notFoundTtlSeconds: number;
  private readonly cacheTimeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly fetch: typeof fetch;

  constructor(options: HttpContextProviderOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 800;
    this.cache = options.cache;
    this.cacheTtlSeconds = options.cacheTtlSeconds ?? 60;
    this.notFoundTtlSeconds = options.notFoundTtlSeconds ?? 30;
    this.cacheTimeoutMs = options.cacheTimeoutMs ?? 100;
    this.breaker = options.breaker ?? new CircuitBreaker();
    this.headers = { accept: 'application/json', ...options.headers };
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  getVehicle(id: string): Promise<Vehicle | undefined> {
    return this.lookup('vehicles', id, parseWith(apiVehicleSchema));
  }

  getShipment(id: string): Promise<Shipment | undefined> {
    return this.lookup('shipments', id, parseWith(apiShipmentSchema));
  }

  private async lookup<T>(collection: string, id: string, parse: ParseEntity<T>): Promise<T | undefined> {
    const cacheKey = `${collection}:${id}`;
    const cached = await this.readCache(cacheKey);
    if (cached !== undefined) {
      if (cached === NOT_FOUND) return undefined;
      const parsed = parseJson(cached, parse);
      // A cached entry from an older shape is simply a miss.
      if (parsed.ok) return parsed.value;
    }

    const route = `GET /${collection}/${id}`;
    if (!this.breaker.tryAcquire()) {
      throw new ContextLookupError(
        'circuit-open',
        `dispatch API circuit open after repeated failures (${route} not attempted)`,
      );
    }
    let body: string | undefined;
    let value: T | undefined;
    try {
      body = await this.request(`${this.baseUrl}/${collection}/${encodeURIComponent(id)}`, route);
      if (body !== undefined) {
        const parsed = parseJson(body, parse);
        if (!parsed.ok)
          throw new ContextLookupError(
            'invalid-response',
            `dispatch API sent an invalid body for ${route}: ${parsed.problem}`,
          );
        value = parsed.value;
      }
    } catch (error: unknown) {
      this.breaker.recordFailure();
      throw error;
    }
    this.breaker.recordSuccess();
    this.writeCache(
      cacheKey,
      body ?? NOT_FOUND,
      body === undefined ? this.notFoundTtlSeconds : this.cacheTtlSeconds,
    );
    return value;
  }

  /** The body text, or undefined for 404. */
  private async request(url: string, route: string): Promise<string | undefined> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const response = await this.fetch(url, { headers: this.headers, signal });
      if (response.status === 404) {
        await response.body?.cancel();
        return undefined;
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new ContextLookupError(
          'http-error',
          `dispatch API answered HTTP ${response.status} to ${route}`,
        );
      }
      return await response.text();
    } catch (error: unknown) {
      if (error instanceof ContextLookupError) throw error;
      if (signal.aborted) {
        throw new ContextLookupError(
          'timeout',
          `dispatch API did not answer ${route} within ${this.timeoutMs} ms`,
          { cause: error },
        );
      }
      throw new ContextLookupError(
        'network',
        `dispatch API unreachable for ${route}: ${describeFetchError(error)}`,
        { cause: error },
      );
    }
  }

  private async readCache(key: string): Promise<string | undefined> {
    if (this.cache === undefined) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, this.cacheTimeoutMs, undefined);
    });
    try {
      return await Promise.race([this.cache.get(key), timedOut]);
    } catch {
      // The cache only saves a request; when it is broken, ask the API.
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private writeCache(key: string, value: string, ttlSeconds: number): void {
    // Not awaited: the answer is already in hand, and a slow cache must not delay the notification.
    this.cache?.set(key, value, ttlSeconds).catch(() => undefined);
  }
}

function parseWith<S extends z.ZodType>(schema: S): ParseEntity<z.output<S>> {
  return (data) => {
    const result = schema.safeParse(data);
    if (result.success) return { ok: true, value: result.data };
    const issue = result.error.issues[0];
    return {
      ok: false,
      problem: issue ? `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}` : 'invalid',
    };
  };
}

function parseJson<T>(text: string, parse: ParseEntity<T>): ReturnType<ParseEntity<T>> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  return parse(data);
}

function describeFetchError(error: unknown): string {
  // undici reports "fetch failed" and keeps the useful part (ECONNREFUSED, ENOTFOUND) in `cause`.
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  if (typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string')
    return cause.code;
  return describeError(cause);
}
