import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/**
 * A worker's Prometheus metrics, served on its health listener at `/metrics`. Labels are the
 * queue and stage names from the pipeline declarations only, so their number stays bounded.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly completed: Counter<'queue' | 'stage'>;
  readonly failed: Counter<'queue' | 'stage'>;
  readonly retried: Counter<'queue' | 'stage'>;
  readonly dead: Counter<'queue' | 'stage'>;
  readonly reclaimed: Counter<'queue' | 'stage'>;
  readonly duration: Histogram<'queue' | 'stage' | 'outcome'>;
  readonly wait: Histogram<'queue' | 'stage'>;
  readonly redisErrors: Counter;

  /**
   * `heldJobs`: the jobs running now (not slots reserved for a take in progress); `concurrency`:
   * CONCURRENCY; `unrecorded`: held jobs whose outcome Redis has refused for now.
   */
  constructor(heldJobs: () => number, concurrency: number, unrecorded: () => number) {
    const registers = [this.registry];
    // Event-loop lag sampled every 100 ms, as in the API (see its metrics plugin).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['queue', 'stage'] as const, registers });
    this.completed = counter('conveyor_jobs_completed_total', 'Stages completed by this worker (a job completes when its last stage does).');
    this.failed = counter('conveyor_jobs_failed_total', 'Attempts that failed (error or timeout).');
    this.retried = counter('conveyor_jobs_retried_total', 'Failed attempts scheduled for a retry.');
    this.dead = counter('conveyor_jobs_dead_total', 'Jobs this worker dead-lettered.');
    this.reclaimed = counter('conveyor_jobs_reclaimed_total', 'Jobs this worker took over after their lease lapsed, or resumed after its own restart under the name that held them (a crash).');
    this.duration = new Histogram({
      name: 'conveyor_job_duration_seconds',
      help: 'How long a stage attempt ran in this worker, by outcome.',
      labelNames: ['queue', 'stage', 'outcome'] as const,
      buckets: secondsBuckets,
      registers,
    });
    this.wait = new Histogram({
      name: 'conveyor_job_wait_seconds',
      help: 'How long a job waited on its stage before a worker started it.',
      labelNames: ['queue', 'stage'] as const,
      buckets: secondsBuckets,
      registers,
    });
    new Gauge({
      name: 'conveyor_jobs_in_flight',
      help: 'Jobs this worker holds now.',
      registers,
      collect() {
        this.set(heldJobs());
      },
    });
    new Gauge({
      name: 'conveyor_jobs_unrecorded',
      help: 'Jobs this worker finished whose outcome Redis has not taken yet (refused for now: out of memory, disk, failover, unreachable); above 0 for long, Redis needs attention.',
      registers,
      collect() {
        this.set(unrecorded());
      },
    });
    new Gauge({ name: 'conveyor_worker_concurrency', help: 'CONCURRENCY of this worker.', registers }).set(concurrency);
    this.redisErrors = new Counter({ name: 'conveyor_redis_errors_total', help: 'Errors of the Redis connections (lost, refused, timed out); commands Redis refuses are not counted here.', registers });
  }

  /**
   * Shows every job counter at 0 for the stages this worker serves, from the start: a series that
   * appears only at its first event is missed by `rate()` and `increase()`, and an alert on it
   * never sees the first failure.
   */
  startAtZero(stages: readonly { queue: string; stage: string }[]): void {
    for (const labels of stages) {
      for (const counter of [this.completed, this.failed, this.retried, this.dead, this.reclaimed]) counter.inc(labels, 0);
    }
  }
}
