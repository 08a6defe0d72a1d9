/**
 * Replication before the answer (DESIGN.md §Scaling past one machine). Redis replicates asynchronously: a
 * commit the master acknowledged but had not yet sent to a replica is gone after a failover. So with
 * REDIS_MIN_REPLICAS > 0 a webhook is answered 2xx only once `WAIT` confirms that the replicas hold
 * everything the master had executed up to the webhook's last write; otherwise it is answered 503 and
 * Alertmanager retries, which is safe: a retry re-queues whatever a lost or unconfirmed commit caused.
 */
import type { Redis } from 'ioredis';

/** The commit was stored on the master but not confirmed on enough replicas: answer 503. */
export class ReplicationError extends Error {
  override name = 'ReplicationError';
}

export interface ReplicaGate {
  readonly minReplicas: number;
  /**
   * Resolves once the replicas hold every write this connection made so far; throws ReplicationError when
   * fewer than minReplicas confirm within the timeout. Call it right after the webhook's last write was
   * sent on the same connection: WAIT covers the writes of the connection it runs on.
   */
  confirm(): Promise<void>;
  /** For /readyz: throws when fewer than minReplicas replicas are connected and in sync. */
  check(): Promise<void>;
}

export interface ReplicaGateOptions {
  minReplicas: number;
  /**
   * How long one WAIT may block. A WAIT holds its connection, which every webhook of the process shares,
   * so it stays well below the producer's command timeout (redis.ts).
   */
  timeoutMs?: number;
  /**
   * After a WAIT came back short, webhooks are refused without waiting for this long: a missing replica
   * would otherwise hold the shared connection for timeoutMs per webhook. The next WAIT after it re-checks.
   */
  refuseForMs?: number;
  /** Told the number of replicas seen by each WAIT or check, for the relay_redis_replicas gauge. */
  onReplicas?: (count: number) => void;
  now?: () => number;
}

/** Counts replicas that are connected and streaming, from `INFO replication` of the master. */
export function onlineReplicas(info: string): { role: string; online: number } {
  const role = /^role:(\w+)/m.exec(info)?.[1] ?? 'unknown';
  const online = info.split(/\r?\n/).filter((line) => /^slave\d+:.*\bstate=online\b/.test(line)).length;
  return { role, online };
}

export function createReplicaGate(redis: Redis, options: ReplicaGateOptions): ReplicaGate {
  const { minReplicas } = options;
  const timeoutMs = options.timeoutMs ?? 800;
  const refuseForMs = options.refuseForMs ?? 1000;
  const now = options.now ?? Date.now;
  let shortUntil = 0;
  let nextWait: Promise<number> | undefined;

  /**
   * Group commit: the webhooks of one event-loop turn share one WAIT. It is sent in the next turn, after
   * the writes of every caller that joined it, so it covers them all; and a WAIT blocks its connection
   * until answered, so one per turn keeps concurrent webhooks from queueing behind each other's.
   */
  const sharedWait = (): Promise<number> => {
    nextWait ??= new Promise<number>((resolve, reject) => {
      setImmediate(() => {
        nextWait = undefined;
        redis.wait(minReplicas, timeoutMs).then((count) => resolve(Number(count)), reject);
      });
    });
    return nextWait;
  };

  return {
    minReplicas,
    async confirm() {
      if (minReplicas === 0) return;
      if (now() < shortUntil) {
        throw new ReplicationError(
          `a WAIT less than ${refuseForMs} ms ago found fewer than REDIS_MIN_REPLICAS=${minReplicas} Redis replicas; not answering 2xx, since a failover now could lose the commit`,
        );
      }
      const count = await sharedWait();
      options.onReplicas?.(count);
      if (count < minReplicas) {
        shortUntil = now() + refuseForMs;
        throw new ReplicationError(
          `the commit reached ${count} of REDIS_MIN_REPLICAS=${minReplicas} Redis replicas within ${timeoutMs} ms; not answering 2xx, since a failover now could lose it`,
        );
      }
      shortUntil = 0;
    },
    async check() {
      if (minReplicas === 0) return;
      const { role, online } = onlineReplicas(await redis.info('replication'));
      options.onReplicas?.(online);
      if (role !== 'master') throw new Error(`the Redis the relay writes to is a ${role}, not the master`);
      if (online < minReplicas) {
        throw new Error(
          `${online} of REDIS_MIN_REPLICAS=${minReplicas} Redis replicas are connected; webhooks are answered 503 until enough are back`,
        );
      }
    },
  };
}
