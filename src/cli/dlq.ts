/**
 * `npm run dlq -- list` shows the dead letters (deliveries that failed for good, with their reason);
 * `npm run dlq -- retry [JOB_ID ...]` puts them (or the named ones) back in the queue.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../config/config.js';
import { DELIVERY_QUEUE, queuePrefix, type ReconcileJobData } from '../enqueue/delivery-queue.js';
import { RedisAlertStore } from '../store/alert-store.js';

async function main(): Promise<number> {
  const [command, ...ids] = process.argv.slice(2);
  if (command !== 'list' && command !== 'retry') {
    process.stderr.write('usage: npm run dlq -- list | retry [JOB_ID ...]\n');
    return 2;
  }
  const config = loadConfig(process.env);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
  const queue = new Queue<ReconcileJobData>(DELIVERY_QUEUE, {
    connection: redis,
    prefix: queuePrefix(config.policy.redis_prefix),
  });
  const store = new RedisAlertStore(redis, {
    prefix: config.policy.redis_prefix,
    retentionSeconds: config.policy.delivery.retention,
  });
  try {
    const failed = (await queue.getFailed(0, -1)).filter(
      (j) => ids.length === 0 || (j.id !== undefined && ids.includes(j.id)),
    );
    if (command === 'list') {
      if (failed.length === 0) process.stdout.write('no dead letters\n');
      for (const job of failed) {
        const snapshot = await store.loadIncident(job.data.groupId, job.data.incidentId);
        const delivery = snapshot?.deliveries.find((d) => d.id === job.data.deliveryId);
        process.stdout.write(
          `${job.id}  failed ${new Date(job.finishedOn ?? 0).toISOString()}  after ${job.attemptsMade} attempt(s)\n` +
            `    incident ${job.data.incidentId} (${snapshot?.commonLabels.alertname ?? 'expired'}) → ${delivery ? `${delivery.kind} ${delivery.target}` : job.data.deliveryId}\n` +
            `    reason: ${job.failedReason}\n`,
        );
      }
      return 0;
    }
    for (const job of failed) {
      await job.retry('failed');
      process.stdout.write(`retried ${job.id} (incident ${job.data.incidentId})\n`);
    }
    if (ids.length && failed.length < ids.length) {
      process.stderr.write(
        `not found among dead letters: ${ids.filter((id) => !failed.some((j) => j.id === id)).join(', ')}\n`,
      );
      return 1;
    }
    if (failed.length === 0) process.stdout.write('no dead letters to retry\n');
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
