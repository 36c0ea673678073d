import { createRedis, enqueueJobs, newJobId, QueueKeys, type Lane, type NewJob } from '@conveyor/shared';
import { startApi, startWorker, type ApiProcess, type WorkerProcess } from '@conveyor/testing/processes';
import type { Redis } from 'ioredis';

const PREFIX = 'conveyor';

/** With BENCH_PROFILE=<folder>, our processes write V8 CPU profiles (`node --cpu-prof`) to <folder>/api and <folder>/worker when they exit. */
function profileFlags(name: 'api' | 'worker'): string[] {
  const folder = process.env.BENCH_PROFILE;
  return folder ? ['--cpu-prof', `--cpu-prof-dir=${folder}/${name}`] : [];
}

/**
 * Conveyor as users run it: the compiled API and worker processes, on the benchmark's Redis.
 * Transitions are logged at debug level (LOG_TRANSITIONS=false): a log line per job is a
 * choice users make, not part of the queue.
 */
export class ConveyorStack {
  readonly keys = this.keysOf('inference');
  readonly redis: Redis;

  constructor(readonly redisUrl: string) {
    this.redis = createRedis(redisUrl, { role: 'command', name: 'conveyor:bench' });
  }

  keysOf(queue: string): QueueKeys {
    return new QueueKeys(PREFIX, queue);
  }

  /** MAX_BACKLOG=0: the load scenarios queue more than the default admission limit. */
  startApi(env: Record<string, string> = {}): Promise<ApiProcess> {
    return startApi({ redisUrl: this.redisUrl, prefix: PREFIX, env: { MAX_BACKLOG: '0', ...env }, nodeFlags: profileFlags('api') });
  }

  startWorker(concurrency: number, env: Record<string, string> = {}): Promise<WorkerProcess> {
    return startWorker({
      nodeFlags: profileFlags('worker'),
      redisUrl: this.redisUrl,
      prefix: PREFIX,
      env: { CONCURRENCY: String(concurrency), LOG_TRANSITIONS: 'false', WORKER_STAGES: 'inference', ...env },
    });
  }

  /** Queues inference jobs straight through the enqueue script, 1,000 per call. */
  async enqueue(payloads: readonly string[], lane: Lane = 'normal'): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < payloads.length; i += 1_000) {
      const jobs: NewJob[] = payloads.slice(i, i + 1_000).map((payload) => ({ id: newJobId('inference'), lane, payload }));
      const outcome = await enqueueJobs(this.redis, this.keys, 'infer', jobs, { idempotencyTtlSeconds: 86_400, maxBacklog: 0 });
      if (!outcome.ok) throw new Error(`enqueue refused: ${outcome.reason}`);
      ids.push(...jobs.map((job) => job.id));
    }
    return ids;
  }

  /**
   * Jobs completed in the last half hour, from the queue's per-minute event counters (each
   * phase of the benchmark starts on an empty Redis and lasts far less).
   */
  async completed(): Promise<number> {
    const minute = Math.floor(Date.now() / 60_000);
    const minutes = Array.from({ length: 31 }, (_, i) => minute + 1 - i);
    const counts = await Promise.all(minutes.map((m) => this.redis.hget(this.keys.stats(m), 'completed:infer')));
    return counts.reduce((sum, count) => sum + Number(count ?? 0), 0);
  }

  close(): void {
    this.redis.disconnect();
  }
}
