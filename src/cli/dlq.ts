/**
 * `npm run dlq -- list` shows the dead letters (deliveries that failed for good, with their reason) of every
 * channel kind's queue; `npm run dlq -- retry [ID ...]` puts them (or the named ones) back in their queue.
 * Each kind's queue numbers its jobs on its own, so a dead letter is named `KIND/JOB_ID` (`slack/12`).
 */

import type { Job } from 'bullmq';
import { ConfigError, loadConfig } from '../config/config.js';
import { BullDeliveryQueue, type ReconcileJobData } from '../enqueue/delivery-queue.js';
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
    const nameOf = (job: Job<ReconcileJobData>) => `${job.data.kind}/${job.id}`;
    const failed = (await queue.getJobs(['failed'])).filter(
      (j) => ids.length === 0 || ids.includes(nameOf(j)),
    );
    if (command === 'list') {
      if (failed.length === 0) process.stdout.write('no dead letters\n');
      for (const job of failed) {
        const snapshot = await store.loadIncident(job.data.groupId, job.data.incidentId);
        const delivery = snapshot?.deliveries.find((d) => d.id === job.data.deliveryId);
        process.stdout.write(
          `${nameOf(job)}  failed ${new Date(job.finishedOn ?? 0).toISOString()}  after ${job.attemptsMade} attempt(s)\n` +
            `    incident ${job.data.incidentId} (${snapshot?.commonLabels.alertname ?? 'expired'}) → ${delivery ? `${delivery.kind} ${delivery.target}` : `${job.data.kind} ${job.data.deliveryId}`}\n` +
            `    reason: ${job.failedReason}\n`,
        );
      }
      return 0;
    }
    for (const job of failed) {
      await job.retry('failed');
      process.stdout.write(`retried ${nameOf(job)} (incident ${job.data.incidentId})\n`);
    }
    if (ids.length && failed.length < ids.length) {
      process.stderr.write(
        `not found among dead letters: ${ids.filter((id) => !failed.some((j) => nameOf(j) === id)).join(', ')}\n`,
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
