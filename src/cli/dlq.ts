/**
 * `npm run dlq -- list` shows the dead letters (deliveries that failed for good, with their reason) of every
 * channel kind's queue; `npm run dlq -- retry [ID ...]` puts them (or the named ones) back in their queue.
 * Each kind's queue numbers its jobs on its own, so a dead letter is named `KIND/JOB_ID` (`slack/12`).
 */

import { ConfigError, loadConfig } from '../config/config.js';
import { listDeadLetters, retryDeadLetters } from '../enqueue/dead-letters.js';
import { BullDeliveryQueue } from '../enqueue/delivery-queue.js';
import { RedisAlertStore } from '../store/alert-store.js';
import { createWorkerRedis } from '../store/redis.js';

async function main(): Promise<number> {
  const [command, ...ids] = process.argv.slice(2);
  if (command !== 'list' && command !== 'retry') {
    process.stderr.write('usage: npm run dlq -- list | retry [KIND/JOB_ID ...]\n');
    return 2;
  }
  const config = loadConfig(process.env);
  // REDIS_URL, or the master the sentinels name (REDIS_SENTINELS).
  const redis = createWorkerRedis(config.redis, { maxRetriesPerRequest: 2 });
  const queue = new BullDeliveryQueue(redis, {
    prefix: config.policy.redis_prefix,
    attempts: config.policy.delivery.attempts,
    retentionSeconds: config.policy.delivery.retention,
  });
  const store = new RedisAlertStore(redis, {
    prefix: config.policy.redis_prefix,
    retentionSeconds: config.policy.delivery.retention,
  });
  try {
    if (command === 'list') {
      const letters = await listDeadLetters(queue, store, ids);
      if (letters.length === 0) process.stdout.write('no dead letters\n');
      for (const letter of letters) {
        process.stdout.write(
          `${letter.name}  failed ${new Date(letter.failedAt).toISOString()}  after ${letter.attempts} attempt(s)\n` +
            `    incident ${letter.incidentId} (${letter.alertname ?? 'expired'}) → ${letter.kind} ${letter.target}\n` +
            `    reason: ${letter.reason}\n`,
        );
      }
      return 0;
    }
    const { retried, missing } = await retryDeadLetters(queue, ids);
    for (const r of retried) process.stdout.write(`retried ${r.name} (incident ${r.incidentId})\n`);
    if (missing.length) {
      process.stderr.write(`not found among dead letters: ${missing.join(', ')}\n`);
      return 1;
    }
    if (retried.length === 0) process.stdout.write('no dead letters to retry\n');
    return 0;
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof ConfigError ? 'configuration refused:\n' : ''}${(error as Error).message}\n`,
    );
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);
