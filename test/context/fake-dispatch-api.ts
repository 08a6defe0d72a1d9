import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeApiBehaviour = 'ok' | 'slow' | 'fail' | 'garbage';

/** The dispatch system's API as a real HTTP server on port 0, with switchable failure modes. */
export interface FakeDispatchApi {
  baseUrl: string;
  /** Paths requested, in order. */
  requests: string[];
  behaviour: FakeApiBehaviour;
  slowMs: number;
  close(): Promise<void>;
}

const RECORDS: Record<string, unknown> = {
  '/api/vehicles/TRK-0042': {
    id: 'TRK-0042',
    driver: { name: 'Ana Silva', phone: '+31 6 1234 5042' },
    depot: 'Rotterdam-North',
    shipment_ids: ['SHP-0042'],
    // Fields this relay does not know must not break it.
    odometer_km: 182_331,
  },
  '/api/shipments/SHP-0042': {
    id: 'SHP-0042',
    customer: 'Pfizer NL',
    cargo_class: 'chilled-pharma',
    description: 'COVID-19 vaccines, 1,200 vials',
    eta: '2026-11-26T14:20:00Z',
  },
};

export async function startFakeDispatchApi(): Promise<FakeDispatchApi> {
  const timers = new Set<NodeJS.Timeout>();
  const api: FakeDispatchApi = {
    baseUrl: '',
    requests: [],
    behaviour: 'ok',
    slowMs: 1_500,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const answer = (request: IncomingMessage, response: ServerResponse): void => {
    const path = request.url ?? '';
    if (api.behaviour === 'fail') {
      response.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      return;
    }
    if (api.behaviour === 'garbage') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"id": 42}');
      return;
    }
    const record = Object.hasOwn(RECORDS, path) ? RECORDS[path] : undefined;
    if (record === undefined) {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not Found"}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(record));
  };

  const server = createServer((request, response) => {
    api.requests.push(request.url ?? '');
    if (api.behaviour === 'slow') {
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer(request, response);
      }, api.slowMs);
      timers.add(timer);
      return;
    }
    answer(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  return api;
}
