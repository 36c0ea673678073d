import { checkEvictionPolicy, createRedis, ensureGroups, type Logger, type WorkerConfig } from '@conveyor/shared';
import type { Redis } from 'ioredis';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { startHealthServer, portOf } from './health-server.js';
import { JobRunner } from './job-runner.js';
import { Maintenance } from './maintenance.js';
import { QueueReader } from './queue-reader.js';
import { Slots } from './slots.js';
import { selectStages } from './stage-selection.js';
import type { ServedStage, WorkerContext } from './worker-context.js';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped';

/**
 * One worker process: one consumer (named `<hostname>-<pid>` unless CONSUMER_NAME is set) in
 * the group of every stage it serves, running up to CONCURRENCY jobs at once.
 *
 *   starting → running → draining → stopped
 *
 * Draining stops taking jobs and lets the held ones finish within the grace period.
 */
export class Worker {
  state: WorkerState = 'starting';
  readonly consumer: string;
  readonly ctx: WorkerContext;
  readonly stages: ServedStage[];
  readonly runner: JobRunner;
  #readers: QueueReader[] = [];
  #readerLoops: Promise<void>[] = [];
  #blocking: Redis[] = [];
  #maintenance: Maintenance;
  #health: Server | undefined;

  constructor(
    readonly config: WorkerConfig,
    readonly logger: Logger,
  ) {
    this.consumer = config.CONSUMER_NAME ?? `${hostname()}-${process.pid}`;
    this.stages = selectStages(config.WORKER_STAGES);
    const redis = createRedis(config.REDIS_URL, { role: 'command', name: `conveyor:worker:${this.consumer}` });
    this.ctx = {
      config,
      logger: logger.child({ worker: this.consumer }),
      redis,
      consumer: this.consumer,
      slots: new Slots(config.CONCURRENCY),
      retentionSeconds: Math.ceil(config.JOB_RETENTION / 1_000),
      isTaking: () => this.state === 'running',
    };
    this.runner = new JobRunner(this.ctx, new Map(this.stages.map((served) => [`${served.pipeline.name}:${served.stage}`, served])));
    this.#maintenance = new Maintenance(this.ctx, [...new Set(this.stages.map((served) => served.pipeline.name))]);
    this.#watchConnection(redis, 'commands');
  }

  get healthPort(): number | undefined {
    return this.#health ? portOf(this.#health) : undefined;
  }

  async start(): Promise<void> {
    const { config, logger } = this.ctx;
    if (config.WORKER_PORT >= 0) {
      this.#health = await startHealthServer(
        {
          live: () => this.state !== 'stopped',
          ready: () => this.state === 'running' && this.ctx.redis.status === 'ready',
          describe: () => ({ state: this.state, consumer: this.consumer, in_flight: this.ctx.slots.used }),
        },
        config.WORKER_PORT,
        config.WORKER_HOST,
      );
    }
    await checkEvictionPolicy(this.ctx.redis, logger, config.NODE_ENV === 'production');
    const pipelines = [...new Set(this.stages.map((served) => served.pipeline))];
    await ensureGroups(this.ctx.redis, config.KEY_PREFIX, pipelines);

    this.state = 'running';
    for (const pipeline of pipelines) {
      const blocking = createRedis(config.REDIS_URL, { role: 'blocking', name: `conveyor:worker:${this.consumer}:read:${pipeline.name}` });
      this.#watchConnection(blocking, `blocking reads of ${pipeline.name}`);
      this.#blocking.push(blocking);
      this.#readers.push(new QueueReader(this.ctx, this.stages.filter((served) => served.pipeline === pipeline), this.runner, blocking));
    }
    this.#readerLoops = this.#readers.map((reader) => reader.run());
    this.#maintenance.start();
    logger.info(
      { concurrency: config.CONCURRENCY, stages: this.stages.map((s) => `${s.pipeline.name}:${s.stage}`), health_port: this.healthPort },
      'worker running',
    );
  }

  /** Stops taking jobs, lets held ones finish within `graceMs`, then closes everything. */
  async stop(graceMs: number): Promise<void> {
    if (this.state === 'draining' || this.state === 'stopped') return;
    const { logger, slots } = this.ctx;
    this.state = 'draining';
    logger.info({ in_flight: slots.used, grace_ms: graceMs }, 'draining: no new jobs; letting held jobs finish');
    slots.wakeAll();
    for (const blocking of this.#blocking) blocking.disconnect();
    await Promise.allSettled(this.#readerLoops);
    const finished = await Promise.race([slots.whenIdle().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref())]);
    if (!finished) {
      logger.warn({ in_flight: slots.used }, 'grace period over; leaving the remaining jobs to be reclaimed');
    }
    await this.#maintenance.stop();
    await this.#health?.close();
    await this.ctx.redis.quit().catch(() => this.ctx.redis.disconnect());
    this.state = 'stopped';
    logger.info('worker stopped');
  }

  #watchConnection(redis: Redis, what: string): void {
    let down = false;
    redis.on('error', (error: Error) => {
      if (!down) this.ctx.logger.warn({ err: error.message }, `Redis connection for ${what} lost; reconnecting`);
      down = true;
    });
    redis.on('ready', () => {
      if (down) this.ctx.logger.info(`Redis connection for ${what} is back`);
      down = false;
    });
  }
}
