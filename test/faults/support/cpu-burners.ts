/** Processes that spin on every core, to starve the relay of CPU; each also ends itself after `maxMs`. */
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { track } from './child-processes.js';

export class CpuBurners {
  private readonly children: ChildProcess[] = [];

  static start(maxMs = 90_000, count = availableParallelism()): CpuBurners {
    const burners = new CpuBurners();
    for (let i = 0; i < count; i++) {
      burners.children.push(
        track(
          spawn(process.execPath, ['-e', `const end = Date.now() + ${maxMs}; while (Date.now() < end) {}`], {
            stdio: 'ignore',
          }),
        ),
      );
    }
    return burners;
  }

  get count(): number {
    return this.children.length;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
  }
}
