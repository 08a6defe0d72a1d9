/** The relay process: config, wiring, signals. Exit code 2 means the configuration was refused. */
import { ConfigError, loadConfig } from './config/config.js';
import { createLogger } from './observability/logger.js';
import { startRelay } from './relay.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`relay: configuration refused:\n${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const relay = await startRelay(config, { logger });

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
    relay.stop().then(
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

main().catch((error: unknown) => {
  // The message says what to fix; a stack only helps for errors the relay did not expect.
  const known =
    error instanceof Error &&
    /already in use|Redis did not answer|check failed|email template/.test(error.message);
  process.stderr.write(
    `relay: failed to start: ${known ? error.message : ((error as Error).stack ?? String(error))}\n`,
  );
  process.exit(1);
});
