#!/usr/bin/env node
// `npm run check:start` (CI, after `npm run build`): the production start, `node dist/main.js`, as the
// Dockerfile runs it, comes up on a free port, answers /healthz and /readyz, and stops cleanly on SIGTERM.
// It uses REDIS_URL when set, else whatever main.js chooses (the Redis on 127.0.0.1:6379, or its own child).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const entry = 'dist/main.js';
if (!existsSync(entry)) {
  console.error(`check-start: ${entry} is missing; run \`npm run build\` first`);
  process.exit(1);
}

const outbox = mkdtempSync(join(tmpdir(), 'relay-check-start-'));
const child = spawn(process.execPath, ['--optimize-for-size', entry], {
  env: {
    ...process.env,
    PORT: '0', // the relay logs the port it got
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    RELAY_OUTBOX_DIR: outbox,
    RELAY_ROLE: 'all',
    RELAY_CONFIG: '',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
let port;
child.stdout.on('data', (chunk) => {
  output += chunk;
  for (const line of String(chunk).split('\n')) {
    try {
      const event = JSON.parse(line);
      if (event.msg === 'relay listening') port = event.port;
    } catch {
      // not a JSON log line
    }
  }
});
child.stderr.on('data', (chunk) => {
  output += chunk;
});
const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));

function fail(message) {
  console.error(`check-start: ${message}\n--- output of node ${entry}:\n${output}`);
  child.kill('SIGKILL');
  rmSync(outbox, { recursive: true, force: true });
  process.exit(1);
}

const deadline = Date.now() + 60_000;
let ready;
while (!ready) {
  if (child.exitCode !== null) fail(`exited with ${child.exitCode} before it was ready`);
  if (Date.now() > deadline) fail('not ready within 60 s');
  if (port !== undefined) {
    try {
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      const readiness = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (health.status === 200 && readiness.status === 200) ready = { health: await health.json() };
    } catch {
      // not listening yet
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}

child.kill('SIGTERM');
const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 30_000))]);
rmSync(outbox, { recursive: true, force: true });
if (code !== 0) fail(`SIGTERM: expected exit code 0, got ${code}`);
console.log(`check-start: node ${entry} started on port ${port}, /healthz and /readyz answered 200, SIGTERM exited 0`);
