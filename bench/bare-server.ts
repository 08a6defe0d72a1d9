/** The baseline: a bare Hono endpoint that only parses the same JSON (DESIGN.md §Performance notes). */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.post('/webhook/alertmanager', async (c) => {
  const body = (await c.req.json()) as { groupKey?: string };
  return c.json({ status: 'accepted', groupKey: body.groupKey?.length ?? 0 });
});
const server = serve(
  { fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1' },
  (info) => {
    process.stdout.write(`listening ${info.port}\n`);
  },
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
