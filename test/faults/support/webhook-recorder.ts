/**
 * An HTTP hop between Alertmanager and the relay that forwards every webhook unchanged and records the ones
 * the relay answered 2xx, so a scenario driven by a real Alertmanager can account for what was accepted.
 */
import { createServer, type Server } from 'node:http';
import type { WebhookPayload } from '../../../src/receive/schema.js';
import { rawRequest } from '../../support/http.js';
import { freePort } from '../../support/redis-server.js';
import type { Accepted } from './poster.js';

export class WebhookRecorder {
  readonly accepted: Accepted[] = [];
  target = '';
  private constructor(
    readonly port: number,
    private readonly server: Server,
  ) {}

  static async start(): Promise<WebhookRecorder> {
    const port = await freePort();
    const server = createServer();
    const recorder = new WebhookRecorder(port, server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const sentAt = Date.now();
        const headers: Record<string, string> = {};
        for (const name of ['content-type', 'authorization'])
          if (typeof req.headers[name] === 'string') headers[name] = req.headers[name];
        rawRequest(`${recorder.target}${req.url ?? '/'}`, {
          method: req.method ?? 'POST',
          headers,
          body,
        }).then(
          (answer) => {
            if (answer.status >= 200 && answer.status < 300) {
              const reply = answer.json() as { incidentId: string; status: string };
              recorder.accepted.push({
                tag: `alertmanager-${recorder.accepted.length}`,
                payload: JSON.parse(body.toString('utf8')) as WebhookPayload,
                incidentId: reply.incidentId,
                status: reply.status,
                sentAt,
                acceptedAt: Date.now(),
                attempts: 1,
              });
            }
            res.writeHead(answer.status, { 'content-type': 'application/json' });
            res.end(answer.body);
          },
          () => {
            // The relay is unreachable: Alertmanager sees a 502 and retries, as it would.
            res.writeHead(502);
            res.end();
          },
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    return recorder;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
