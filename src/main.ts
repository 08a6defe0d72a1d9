/** The relay process: config, wiring, signals. Exit code 2 means the configuration was refused. */

import { runStaticChecks } from './app/checks.js';
import { startRelay } from './app/relay.js';
import { type Config, ConfigError, DEFAULT_REDIS_URL, loadConfig } from './config/config.js';
import { createLogger } from './observability/logger.js';
import { answers, LOCAL_REDIS_DIR, type LocalRedis, startLocalRedis } from './store/local-redis.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
    // Catalog, fleet and templates: every file problem is found here, before any network I/O.
    runStaticChecks(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`relay: configuration refused:\n${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const localRedis = await startLocalRedisIfNeeded(config);
  if (localRedis) {
    logger.info(
      { url: localRedis.url, pid: localRedis.pid, dir: LOCAL_REDIS_DIR },
      localRedis.adopted
        ? 'REDIS_URL is unset and nothing answers on 127.0.0.1:6379: using the local redis-server an earlier relay started'
        : 'REDIS_URL is unset and nothing answers on 127.0.0.1:6379: started a local redis-server (AOF on, noeviction, loopback); it stops with the relay',
    );
    config = {
      ...config,
      redisUrl: localRedis.url,
      redis: { kind: 'url', url: localRedis.url, explicit: false },
    };
  }
  const relay = await startRelay(config, { logger }).catch(async (error: unknown) => {
    await localRedis?.stop();
    throw error;
  });

  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(
      () => {
        logger.error('shutdown took too long; exiting');
        process.exit(1);
      },
      (config.policy.delivery.shutdown_grace + 5) * 1000,
    );
    deadline.unref();
    relay
      .stop()
      .then(() => localRedis?.stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'error during shutdown');
          process.exit(1);
        },
      );
  };
  // SIGHUP reloads the context catalog; a bad file keeps the catalog in use.
  process.on('SIGHUP', () => {
    try {
      relay.context?.reload();
      logger.info('context catalog reloaded');
    } catch (error) {
      logger.error(
        { reason: (error as Error).message },
        'context catalog reload refused; keeping the previous catalog',
      );
    }
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/**
 * The quick start needs no Redis of its own: with REDIS_URL unset (not merely equal to the default) and
 * nothing on the default address, run a local one. A REDIS_URL that was set and does not answer stays
 * an error, and so does an unreachable Sentinel setup: those name a Redis the operator chose.
 */
async function startLocalRedisIfNeeded(config: Config): Promise<LocalRedis | undefined> {
  if (config.redis.kind !== 'url' || config.redis.explicit) return undefined;
  const { hostname, port } = new URL(DEFAULT_REDIS_URL);
  if (await answers(hostname, Number(port))) return undefined;
  return startLocalRedis({ dir: LOCAL_REDIS_DIR });
}

main().catch((error: unknown) => {
  // An online check (Slack auth.test, SMTP verify) refused the start: a configuration problem like the others.
  if (error instanceof ConfigError) {
    process.stderr.write(`relay: configuration refused:\n${error.message}\n`);
    process.exit(2);
  }
  // The message says what to fix; a stack only helps for errors the relay did not expect.
  const known =
    error instanceof Error &&
    /already in use|Redis did not answer|check failed|email template|redis-server/.test(error.message);
  process.stderr.write(
    `relay: failed to start: ${known ? error.message : ((error as Error).stack ?? String(error))}\n`,
  );
  process.exit(1);
});
