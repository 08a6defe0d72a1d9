/**
 * A TCP proxy in front of the fake Slack or the SMTP sink that injects the faults a network and a stuck
 * server produce, whatever protocol runs through it: slowness, late answers, connection resets, a server
 * that is down (connection refused), and an SMTP server that takes the message body and never answers.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type ProxyMode =
  | { kind: 'pass' }
  /** Every chunk waits this long before it is forwarded: `upMs` towards the server, `downMs` back. */
  | { kind: 'delay'; upMs: number; downMs: number }
  /** Every connection, open or new, is reset (RST) as soon as it is seen. */
  | { kind: 'reset' }
  /**
   * SMTP: the next `mails` messages are held at the end of DATA: the body reaches the server but not its
   * terminating `.` line, and nothing comes back, so the server never commits it and the client never
   * hears an answer. The connection stays open and silent until the proxy closes.
   */
  | { kind: 'hangAfterData'; mails: number };

const END_OF_DATA = Buffer.from('\r\n.\r\n');

interface Pair {
  client: Socket;
  upstream: Socket;
  hung: boolean;
}

export class TcpProxy {
  mode: ProxyMode = { kind: 'pass' };
  /** Connections reset and mails held so far, for the report. */
  resets = 0;
  hung = 0;
  /** When each held connection was closed by its client (it gave up waiting), in order (ms). */
  readonly hungClosedAt: number[] = [];
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  static async start(targetPort: number, port = 0): Promise<TcpProxy> {
    const proxy = new TcpProxy(port, targetPort);
    await proxy.up();
    return proxy;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Connections open through the proxy now (calls in flight, or idle keep-alive ones). */
  get openConnections(): number {
    return this.pairs.size;
  }

  /** Switches mode; 'reset' also resets every open connection now. */
  set(mode: ProxyMode): void {
    this.mode = mode;
    if (mode.kind === 'reset') for (const pair of this.pairs) this.reset(pair);
  }

  /** Listens (again) on the same port. */
  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    (this as { port: number }).port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** The server is down: new connections are refused and open ones are cut. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const pair of this.pairs) this.destroy(pair);
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  close(): Promise<void> {
    return this.down();
  }

  private accept(client: Socket): void {
    if (this.mode.kind === 'reset') {
      this.resets++;
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, hung: false };
    this.pairs.add(pair);
    const forget = () => {
      if (pair.hung && this.pairs.has(pair)) this.hungClosedAt.push(Date.now());
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', forget);
    upstream.on('error', forget);
    client.on('close', forget);
    upstream.on('close', forget);

    // One chain per direction keeps the byte order whatever the delays.
    let up = Promise.resolve();
    let down = Promise.resolve();
    let tail = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      if (pair.hung) return;
      let forward = chunk;
      const mode = this.mode;
      if (mode.kind === 'hangAfterData' && mode.mails > 0) {
        const seen = Buffer.concat([tail, chunk]);
        const at = seen.indexOf(END_OF_DATA);
        if (at >= 0) {
          // Forward the body but not its final "." line: the server keeps waiting for the end of DATA.
          forward = seen.subarray(tail.length, Math.max(tail.length, at + 2));
          pair.hung = true;
          mode.mails--;
          this.hung++;
          if (mode.mails === 0) this.mode = { kind: 'pass' };
        }
      }
      tail = Buffer.from(chunk.subarray(-4));
      const delay = mode.kind === 'delay' ? mode.upMs : 0;
      up = up.then(async () => {
        if (delay) await sleep(delay);
        if (!upstream.destroyed) upstream.write(forward);
      });
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.hung) return;
      const delay = this.mode.kind === 'delay' ? this.mode.downMs : 0;
      down = down.then(async () => {
        if (delay) await sleep(delay);
        if (!client.destroyed && !pair.hung) client.write(chunk);
      });
    });
    client.on('end', () => {
      up = up.then(() => {
        upstream.end();
      });
    });
    upstream.on('end', () => {
      down = down.then(() => {
        client.end();
      });
    });
  }

  private reset(pair: Pair): void {
    this.resets++;
    this.pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream.destroy();
  }

  private destroy(pair: Pair): void {
    this.pairs.delete(pair);
    pair.client.destroy();
    pair.upstream.destroy();
  }
}
