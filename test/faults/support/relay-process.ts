/**
 * The relay as a real process (`node --import tsx src/main.ts`), so SIGKILL and SIGTERM hit what production
 * runs: the process's own signal handling, its connections and its in-flight calls.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pollUntil } from '../../support/poll.js';
import { track } from './child-processes.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export class RelayProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<void> = Promise.resolve();
  private log: WriteStream | undefined;
  private starts = 0;

  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
    /** File that collects stdout and stderr of every start, for failure messages. */
    readonly logFile: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves when /readyz answers 200 (Redis reachable, worker running). */
  async start(): Promise<void> {
    if (this.running) throw new Error('relay already running');
    this.starts++;
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    this.log.write(`\n=== start ${this.starts} at ${new Date().toISOString()}\n`);
    const child = track(
      spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          HOST: '127.0.0.1',
          PORT: String(this.port),
          LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
          ...this.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    this.child = child;
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await pollUntil(
      async () => {
        if (!this.running) throw new Error(`relay exited with ${child.exitCode ?? child.signalCode}`);
        const res = await fetch(`${this.url}/readyz`);
        return res.status === 200;
      },
      60_000,
      () => `relay on ${this.port} did not become ready; log tail:\n${this.logTail()}`,
      100,
    );
  }

  /** Sends a signal and waits for the process to exit (SIGTERM: after its graceful shutdown). */
  async kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child?.kill(signal);
    await this.exit;
  }

  exitCode(): number | string | null | undefined {
    return this.child?.exitCode ?? this.child?.signalCode;
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async stop(): Promise<void> {
    await this.kill('SIGKILL');
    this.log?.end();
  }
}
