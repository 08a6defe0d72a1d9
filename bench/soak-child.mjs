/**
 * A process under `npm run bench:soak` (bench/soak.ts), run with plain `node` as production runs the relay
 * (`node dist/main.js`; tsx's loader thread alone adds about 45 MB of RSS). `relay` runs the built relay
 * (dist/, from `npm run build`) from the environment as dist/main.js would; `bare` runs the bare-Hono
 * baseline (parses the JSON, answers). Either way it prints `listening PORT`, then one JSON line of
 * process.memoryUsage() every SOAK_SAMPLE_MS (1 s), so the driver reads the process's own figures.
 */

import { getHeapStatistics } from 'node:v8';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_MS ?? 1000);

function sampleForever() {
  setInterval(() => {
    const m = process.memoryUsage();
    const sample = {
      t: Date.now(),
      rss: m.rss,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      // V8's own malloc'd memory outside the heap (compiler zones and the like).
      malloced: getHeapStatistics().malloced_memory,
    };
    process.stdout.write(`${JSON.stringify(sample)}\n`);
  }, SAMPLE_MS).unref();
}

async function main() {
  const mode = process.argv[2];
  if (mode === 'bare') {
    const app = new Hono();
    app.post('/webhook/alertmanager', async (c) => {
      const body = await c.req.json();
      return c.json({ status: 'accepted', groupKey: body.groupKey?.length ?? 0 });
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      process.stdout.write(`listening ${info.port}\n`);
      sampleForever();
    });
    process.on('SIGTERM', () => server.close(() => process.exit(0)));
    return;
  }
  if (mode !== 'relay') throw new Error('usage: soak-child.mjs relay|bare');
  // Imported here, so the baseline process does not load the relay's code.
  const { loadConfig } = await import('../dist/config/config.js');
  const { createLogger } = await import('../dist/observability/logger.js');
  const { startRelay } = await import('../dist/app/relay.js');
  const config = loadConfig(process.env);
  const relay = await startRelay(config, { logger: createLogger(config.logLevel) });
  process.stdout.write(`listening ${relay.port}\n`);
  sampleForever();
  process.on('SIGTERM', () => {
    relay.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? String(error)}\n`);
  process.exit(1);
});
