/**
 * Runs the write-ahead pump (src/ingest/pump.ts) until the log is empty, as a worker process would: for tests
 * that run the api role alone or call the app directly and then look at the queued jobs or the incident index.
 */
import type { Redis } from 'ioredis';
import { BullDeliveryQueue } from '../../src/enqueue/delivery-queue.js';
import { WriteAheadLog } from '../../src/enqueue/write-ahead.js';
import { pumpOnce } from '../../src/ingest/pump.js';
import { createLogger } from '../../src/observability/logger.js';
import { RedisAlertStore } from '../../src/store/alert-store.js';

export interface TestPump {
  log: WriteAheadLog;
  /** Pumps until the log is empty; returns how many entries it took. */
  drain(): Promise<number>;
  close(): Promise<void>;
}

export function testPump(redis: Redis, prefix: string, retentionSeconds = 3600): TestPump {
  const options = { prefix, retentionSeconds, attempts: 3 };
  const queue = new BullDeliveryQueue(redis, options);
  const log = new WriteAheadLog(redis, queue, options);
  const store = new RedisAlertStore(redis, options);
  return {
    log,
    async drain() {
      let total = 0;
      for (;;) {
        const n = await pumpOnce({ log, store, blocking: redis, logger: createLogger('silent') });
        if (n === 0) return total;
        total += n;
      }
    },
    close: () => queue.close(),
  };
}
