/**
 * Every process the fault suite spawns, killed with SIGKILL if the test process exits without having
 * stopped it (a crashed worker, an interrupted run), so no redis-server, relay or burner outlives the suite.
 */
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
