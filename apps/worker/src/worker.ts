import {
  checkKeyTypes,
  checkRedisSetup,
  ConnectionCause,
  createRedis,
  ensureGroups,
  heartbeat,
  isRefusedForNow,
  letGoOwn,
  QueueKeys,
  recoverOwn,
  releaseJobs,
  UnusableRedisError,
  warningsOnce,
  warnOfStrandedPartitions,
  type Logger,
  type RecoveryCursors,
  type TakenJob,
  type WorkerConfig,
  type RedisClient,
} from '@conveyor/shared';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsumerClaim } from './consumer-claim.js';
import { ControlChannel } from './control-channel.js';
import { ForeignKeys } from './foreign-keys.js';
import { portOf, startHealthServer } from './health-server.js';
import { JobRunner } from './job-runner.js';
import { LeaseKeeper } from './lease-keeper.js';
import { LoadBudget } from './load-budget.js';
import { Maintenance } from './maintenance.js';
import { WorkerMetrics } from './metrics.js';
import { PauseState } from './pause-state.js';
import { ModelPreloader } from './model-preloader.js';
import { includesBuiltInModels, invalidateModelCaches, modelsOfStages } from './processors/model-caches.js';
import { checkProcessors, createProcessors } from './processors/registry.js';
import { QueueReader } from './queue-reader.js';
import { RedisRefusals } from './redis-refusals.js';
import { Slots } from './slots.js';
import { partitionsBeyondCount, selectStages } from './stage-selection.js';
import { attemptPolicy, noteDeadOut, noteRepeatedCall, stageRequest, type ServedStage, type WorkerContext } from './worker-context.js';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped';

/** How long the last steps of a stop (releasing jobs, closing connections) may wait on Redis. */
const CLOSING_MS = 2_000;

/**
 * How long a worker's claim on its consumer name lasts unrenewed (ConsumerClaim): a worker that
 * restarts under the name of one that crashed waits up to this long before it re-reads that
 * one's jobs.
 */
const NAME_CLAIM_MS = 5_000;

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())]);
}

/** Whether Redis answers a PING within `ms`. */
async function answersWithin(redis: RedisClient, ms: number): Promise<boolean> {
  return (await within(redis.ping().then(() => true, () => false), ms)) === true;
}

/**
 * One worker process: one consumer (named `<hostname>-<pid>` unless CONSUMER_NAME is set) in
 * the group of every stage it serves, running up to CONCURRENCY jobs at once.
 *
 *   starting → running → draining → stopped
 *
 * Starting claims the consumer name (waiting while another live process holds it), then re-reads
 * the consumer's own pending entries first (a restart under the same name).
 * Draining stops taking jobs, lets held ones finish within the grace period, and releases the
 * rest for other workers to take at once.
 */
export class Worker {
  state: WorkerState = 'starting';
  readonly consumer: string;
  readonly ctx: WorkerContext;
  readonly stages: ServedStage[];
  readonly runner: JobRunner;
  #readers: QueueReader[] = [];
  #readerLoops: Promise<void>[] = [];
  readonly #maintenance: Maintenance;
  readonly #leases: LeaseKeeper;
  readonly #control: ControlChannel;
  readonly #pauses: PauseState;
  #health: Server | undefined;
  /** While the command connection is down, the last error it reported (for /readyz). */
  #redisError: string | undefined;
  /** While a start-up step waits for a Redis that refuses writes: the step and Redis's words, for /readyz. */
  #startRefusal: string | undefined;
  readonly #models: ModelPreloader;
  readonly #claim: ConsumerClaim;
  #onNameLost: ((message: string) => void) | undefined;
  #onRedisUnusable: ((error: UnusableRedisError) => void) | undefined;
  /** The Redis checks' warnings, each said once: they run again at every reconnect. */
  readonly #redisWarnings: { warn(message: string): void };

  constructor(
    readonly config: WorkerConfig,
    logger: Logger,
  ) {
    this.consumer = config.CONSUMER_NAME ?? `${hostname()}-${process.pid}`;
    this.stages = selectStages(config.WORKER_STAGES, config.QUEUE_PARTITIONS);
    const redis = createRedis(config.REDIS_URL, { role: 'command', name: `conveyor:worker:${this.consumer}`, silenceTimeoutMs: config.REDIS_TIMEOUT, cluster: config.REDIS_CLUSTER, seeds: config.REDIS_CLUSTER_NODES });
    const keys = new Map<string, QueueKeys>();
    const slots = new Slots(config.CONCURRENCY);
    const workerLogger = logger.child({ worker: this.consumer });
    this.ctx = {
      config,
      logger: workerLogger,
      redis,
      consumer: this.consumer,
      slots,
      loadBudget: new LoadBudget(config.LOAD_BUDGET),
      metrics: new WorkerMetrics(() => this.runner.held().length, config.CONCURRENCY, () => this.runner.unrecorded),
      retentionSeconds: Math.ceil(config.JOB_RETENTION / 1_000),
      keysOf: (queue) => keys.get(queue) ?? keys.set(queue, new QueueKeys(config.KEY_PREFIX, queue)).get(queue)!,
      isTaking: () => this.state === 'running',
      refusals: new RedisRefusals(),
      foreignKeys: new ForeignKeys(redis, config.KEY_PREFIX, workerLogger),
    };
    this.#models = new ModelPreloader(config.PRELOAD_MODELS ? modelsOfStages(this.stages.map((served) => served.stage)) : [], this.ctx.logger);
    this.ctx.metrics.startAtZero(this.stages.map((served) => ({ queue: served.pipeline.name, stage: served.stage })));
    const processors = createProcessors(config);
    checkProcessors(this.stages, processors);
    this.runner = new JobRunner(
      this.ctx,
      new Map(this.stages.map((served) => [`${served.pipeline.name}:${served.stage}`, served])),
      processors,
      (queue, inMs) => this.#maintenance.wakeFor(queue, inMs),
    );
    const queues = [...new Set(this.stages.map((served) => served.pipeline.name))];
    this.#pauses = new PauseState(this.ctx, queues);
    this.#maintenance = new Maintenance(this.ctx, this.stages, (job) => this.runner.start(job), this.#pauses);
    this.#leases = new LeaseKeeper(this.ctx, this.runner);
    this.#control = new ControlChannel(this.ctx, this.runner, this.#pauses, {
      invalidateModels: (model) => {
        const dropped = invalidateModelCaches(model, (name, error) => this.ctx.logger.error({ err: error, model: name }, 'a processor could not drop its cached model'));
        if (includesBuiltInModels(dropped) && this.#models.enabled && this.state === 'running') this.#models.reload();
        return dropped;
      },
      promoteIn: (queue, dueInMs) => this.#maintenance.wakeFor(queue, dueInMs),
    });
    this.#claim = new ConsumerClaim(redis, config.KEY_PREFIX, this.consumer, NAME_CLAIM_MS, this.ctx.logger, (message) => this.#onNameLost?.(message));
    this.#redisWarnings = warningsOnce(this.ctx.logger);
    this.#watchConnection(redis, 'commands');
  }

  /** `callback` is called if another process takes this worker's consumer name while it runs: it must stop. */
  onNameLost(callback: (message: string) => void): void {
    this.#onNameLost = callback;
  }

  /**
   * `callback` is called if the Redis its command connection comes back to cannot be used as
   * configured (restarted with an evicting maxmemory-policy, in production): it must stop, as it
   * would have refused to start on it, and as the API stops.
   */
  onRedisUnusable(callback: (error: UnusableRedisError) => void): void {
    this.#onRedisUnusable = callback;
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
          describe: () => ({
            state: this.state,
            consumer: this.consumer,
            in_flight: this.ctx.slots.used,
            ...(this.#models.loading ? { loading: 'built-in models' } : {}),
            ...(this.#claim.waiting ? { waiting: this.#claim.waitingFor } : {}),
            ...(this.ctx.redis.status !== 'ready' ? { redis: this.#redisError ?? this.ctx.redis.status } : this.#startRefusal ? { redis: this.#startRefusal } : {}),
          }),
          metrics: async () => ({ contentType: this.ctx.metrics.registry.contentType, body: await this.ctx.metrics.registry.metrics() }),
        },
        config.WORKER_PORT,
        config.WORKER_HOST,
      );
    }
    const beyond = partitionsBeyondCount(this.stages, config.QUEUE_PARTITIONS);
    if (beyond.length > 0) logger.warn({ partitions: beyond }, 'WORKER_STAGES names partitions QUEUE_PARTITIONS does not give (draining them?); the API puts no new jobs there');
    await checkRedisSetup(this.ctx.redis, this.#redisWarnings, config.NODE_ENV === 'production');
    const pipelines = [...new Set(this.stages.map((served) => served.pipeline))];
    await checkKeyTypes(this.ctx.redis, config.KEY_PREFIX, pipelines, this.consumer);
    await this.#claim.take(
      (claim) => this.#untilRedisTakes('claim the consumer name', claim),
      () => (this.state === 'starting' ? undefined : new WorkerStopped()),
    );
    // Before the groups: a Redis that restarts empty while the models load has them made again.
    if (this.#models.enabled) await this.#models.load();
    // Told to stop while they loaded (seconds): it takes nothing, and starts nothing more.
    if (this.state !== 'starting') throw new WorkerStopped();
    await this.#untilRedisTakes('create the consumer groups', () => ensureGroups(this.ctx.redis, config.KEY_PREFIX, pipelines));
    // A worker given stranded partitions by name drains them: it warns of the others only.
    await warnOfStrandedPartitions(this.ctx.redis, config.KEY_PREFIX, config.QUEUE_PARTITIONS, logger, pipelines.map((pipeline) => pipeline.name));
    await this.#control.start();
    await this.#pauses.refresh();
    if (this.state !== 'starting') throw new WorkerStopped();

    this.state = 'running';
    this.#leases.start();
    await this.#untilRedisTakes('re-read the jobs this consumer held', () => this.#recoverOwnPending());
    // Told to stop meanwhile: the stop under way handles the jobs re-read; no reader starts.
    if (this.state !== 'running') throw new WorkerStopped();
    for (const pipeline of pipelines) {
      const connectBlocking = () => {
        const blocking = createRedis(config.REDIS_URL, {
          role: 'blocking',
          name: `conveyor:worker:${this.consumer}:read:${pipeline.name}`,
          silenceTimeoutMs: config.BLOCK_MS + config.REDIS_TIMEOUT,
          cluster: config.REDIS_CLUSTER,
          seeds: config.REDIS_CLUSTER_NODES,
        });
        this.#watchConnection(blocking, `blocking reads of ${pipeline.name}`);
        return blocking;
      };
      this.#readers.push(new QueueReader(this.ctx, this.stages.filter((served) => served.pipeline === pipeline), this.runner, connectBlocking, this.#pauses));
    }
    this.#pauses.onChange(() => this.#readers.forEach((reader) => reader.wake()));
    const readerOf = new Map(this.#readers.map((reader) => [reader.queue, reader]));
    this.runner.takeAlongWith({
      // Not while another queue's reader waits for a slot: a busy queue's
      // completions would keep every slot for it, and the other queues' jobs, whatever their
      // priority, would wait until its backlog ran out.
      request: (queue, count) => (this.#readers.some((reader) => reader.waitingForSlot && reader.queue !== queue) ? undefined : readerOf.get(queue)?.takeAlongRequest(count)),
      took: (queue, result) => readerOf.get(queue)!.startTakenAlong(result),
    });
    this.#readerLoops = this.#readers.map((reader) => reader.run());
    this.#maintenance.start();
    logger.info(
      { concurrency: config.CONCURRENCY, stages: this.stages.map((s) => `${s.pipeline.name}:${s.stage}`), lease_ms: config.LEASE_MS, health_port: this.healthPort },
      'worker running',
    );
  }

  /**
   * Stops taking jobs, lets held ones finish within `graceMs`, releases the rest for immediate
   * takeover, then closes everything. Returns within `graceMs` + 2 s even while Redis is
   * unreachable or hangs.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.state === 'draining' || this.state === 'stopped') return;
    const { logger, slots, redis } = this.ctx;
    const deadline = Date.now() + graceMs;
    const until = (at: number) => Math.max(0, at - Date.now());
    this.state = 'draining';
    logger.info({ in_flight: slots.used, grace_ms: graceMs }, 'draining: no new jobs; letting held jobs finish');
    slots.wakeAll();
    this.#pauses.wakeAll();
    for (const reader of this.#readers) reader.close();
    const background = Promise.allSettled([...this.#readerLoops, this.#maintenance.stop()]).then(() => true);
    // The readers' and housekeeping's last calls, and the word that the worker leaves its queues,
    // wait for Redis: while it does not answer they get CLOSING_MS, not the grace period (a worker
    // that held nothing took the whole SHUTDOWN_GRACE_MS to stop). A Redis that hangs keeps the
    // connection ready until REDIS_TIMEOUT, so it is asked. Held jobs still get the grace period.
    const [soon, answering] = await Promise.all([within(background, Math.min(CLOSING_MS, until(deadline))), redis.status === 'ready' && answersWithin(redis, CLOSING_MS)]);
    const settled = soon ?? (answering ? await within(background, until(deadline)) : undefined);
    // A reader's take still on its way to an absent Redis keeps its slots, but holds no job: then
    // only the jobs held are waited for.
    const finished = await within((settled ? slots.whenIdle() : this.runner.whenNoneHeld()).then(() => true), until(deadline));
    // Everything after the grace period shares one short deadline, even while Redis is down.
    const closing = Date.now() + CLOSING_MS;
    if (!finished) await this.#releaseHeld(until(closing));
    this.#leases.stop();
    this.#control.stop();
    await this.#health?.close();
    // A Redis that did not answer is not waited for again: the claim on the name lapses on its own.
    const answered = redis.status === 'ready' && (soon !== undefined || answering);
    if (answered) await within(this.#claim.release(), until(closing));
    // A quit that fails (the connection closed meanwhile) leaves nothing to do: disconnect ends it.
    if (answered) await within(redis.quit().catch(() => undefined), until(closing));
    redis.disconnect();
    this.state = 'stopped';
    logger.info('worker stopped');
  }

  /**
   * Runs a start-up step until Redis takes it. A Redis that refuses writes for now (full, a disk
   * it cannot write, loading, a failover) is waited for, not quit over: a worker that exits is
   * restarted, and under Kubernetes its restarts back off to minutes, which outlast the refusal.
   * Meanwhile /healthz answers 200 and /readyz 503. Throws WorkerStopped once the worker is told
   * to stop.
   */
  async #untilRedisTakes<T>(what: string, step: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        const done = await step();
        this.#startRefusal = undefined;
        return done;
      } catch (error) {
        if (!isRefusedForNow(error)) throw error;
        this.ctx.refusals.note(error);
        this.#startRefusal = `Redis refused to ${what}; waiting until it takes writes: ${error.message}`;
        if (tries === 1) this.ctx.logger.warn({ err: error.message }, `Redis refused to ${what}; waiting until it takes writes (not ready meanwhile)`);
        await sleep(Math.min(2_000, 100 * 2 ** Math.min(tries - 1, 5)));
        if (this.state === 'draining' || this.state === 'stopped') throw new WorkerStopped();
      }
    }
  }

  /** Hands the jobs still held after the grace period to other workers, then stops them here. */
  async #releaseHeld(timeoutMs: number): Promise<void> {
    const held = this.runner.held();
    const byQueue = new Map<string, TakenJob[]>();
    for (const { job } of held) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
    let released = 0;
    try {
      for (const [queue, jobs] of byQueue) {
        const count = await within(releaseJobs(this.ctx.redis, this.ctx.keysOf(queue), this.consumer, jobs, this.config.LEASE_MS * 2, attemptPolicy(this.ctx, queue)), timeoutMs);
        released += count ?? 0;
      }
    } catch (error) {
      this.ctx.logger.warn({ err: (error as Error).message }, 'could not release held jobs; they will be taken over once their lease lapses');
    }
    // A release that Redis did not answer in time releases nothing: say so, not that all went.
    if (released === held.length) {
      this.ctx.logger.warn({ held: held.length, released }, 'grace period over; released the jobs still running for other workers to take');
    } else {
      // A held job may have finished already, its outcome sent but not taken (Redis down): it is not running.
      const unrecorded = held.filter((entry) => entry.outcomeSent).length;
      const finished = unrecorded === 0 ? '' : unrecorded === 1 ? ' (1 of them finished, but Redis has not taken its outcome)' : ` (${unrecorded} of them finished, but Redis has not taken their outcomes)`;
      this.ctx.logger.warn({ held: held.length, released, unrecorded }, `grace period over; could not release every job still held${finished}: the rest are taken over once their lease lapses`);
    }
    const takenOver = released === held.length ? 'another worker takes the job over' : 'another worker takes the job over, once its lease lapses if it was not released';
    for (const entry of held) entry.stop('shutdown', `the worker is shutting down; ${takenOver}`);
  }

  /** A worker restarted under the same consumer name first re-reads its own pending entries. */
  async #recoverOwnPending(): Promise<void> {
    // Its own lease named first: until then the hash names its predecessor's (1 s, say, where
    // this one's is 30 s), and a takeover would wait that out for the jobs re-read here.
    for (const queue of new Set(this.stages.map((served) => served.pipeline.name))) {
      await heartbeat(this.ctx.redis, this.ctx.keysOf(queue), this.consumer, 0, this.config.CONSUMER_RETENTION, false, this.config.LEASE_MS);
    }
    for (const served of this.stages) {
      const keys = this.ctx.keysOf(served.pipeline.name);
      let cursors: RecoveryCursors = ['0', '0', '0'];
      while (cursors.some((cursor) => cursor !== '')) {
        const reserved = this.ctx.slots.reserve();
        if (reserved === 0) {
          // More than this worker can run now: the rest go to the next takeover, any worker's.
          const letGo = await letGoOwn(this.ctx.redis, keys, served.stage, this.consumer, this.config.LEASE_MS * 2, cursors);
          if (letGo > 0) this.ctx.logger.info({ stage: served.stage, jobs: letGo }, 'no free slot for the rest of the jobs this consumer held before it restarted; let go of them for any worker to take over');
          break;
        }
        let taken = 0;
        try {
          const result = await recoverOwn(this.ctx.redis, keys, { ...stageRequest(this.ctx, served), count: reserved }, cursors);
          cursors = result.cursors;
          taken = result.jobs.length;
          if (result.repeated) noteRepeatedCall(this.ctx, 're-read', served.pipeline.name, taken);
          noteDeadOut(this.ctx, served.pipeline.name, served.stage, result.deadOut);
          for (const job of result.jobs) {
            this.ctx.logger.info({ job_id: job.jobId, stage: job.stage, attempt: job.attempt }, 'resuming a job this consumer held before it restarted');
            // Its holder stopped without releasing it (a crash): a stall, as a takeover's, and counted with them.
            this.ctx.metrics.reclaimed.inc({ queue: job.queue, stage: job.stage });
            this.runner.start(job);
          }
        } finally {
          this.ctx.slots.release(reserved - taken);
        }
      }
    }
  }

  #watchConnection(redis: RedisClient, what: string): void {
    let down = false;
    // Closed, with or without an error (a Redis restarted at once is loading, not refusing).
    let lost = false;
    const cause = new ConnectionCause(this.ctx.config.REDIS_URL);
    redis.on('close', () => {
      lost = true;
      // A close without an error (Redis dropped the client: CLIENT KILL, a timeout) is said too, or
      // its "is back" would follow nothing; one this worker made (status "end") is no news.
      setImmediate(() => {
        if (down || redis.status === 'end' || this.state === 'draining' || this.state === 'stopped') return;
        this.ctx.logger.warn({ err: 'Redis closed the connection' }, `Redis connection for ${what} lost; reconnecting`);
        down = true;
      });
    });
    redis.on('error', (error: Error) => {
      this.ctx.metrics.redisErrors.inc();
      this.ctx.refusals.note(error);
      const said = cause.note(error.message) ?? cause.current;
      if (redis === this.ctx.redis) this.#redisError = cause.current;
      if (!down && this.state !== 'draining' && this.state !== 'stopped') {
        this.ctx.logger.warn({ err: said }, `Redis connection for ${what} ${cause.everReady ? 'lost; reconnecting' : 'not made; trying again'}`);
      }
      down = true;
    });
    redis.on('ready', () => {
      const again = cause.everReady;
      cause.ready();
      if (redis === this.ctx.redis) this.#redisError = undefined;
      if (down) this.ctx.logger.info(`Redis connection for ${what} is back`);
      if (lost) this.ctx.refusals.back();
      down = lost = false;
      if (again && redis === this.ctx.redis) this.#checkRedisAgain();
    });
  }

  /**
   * The Redis a connection comes back to may not be the one checked at start (restarted with
   * another configuration, or another server behind the address): it is checked again, as the
   * API checks it each time it connects. A check cut short by the connection dropping again runs
   * at the next reconnect.
   */
  #checkRedisAgain(): void {
    if (this.state !== 'running') return;
    checkRedisSetup(this.ctx.redis, this.#redisWarnings, this.ctx.config.NODE_ENV === 'production').catch((error: unknown) => {
      if (error instanceof UnusableRedisError && this.state === 'running') this.#onRedisUnusable?.(error);
    });
  }
}

/** Thrown by a start that was cut short because the worker was told to stop. */
export class WorkerStopped extends Error {
  constructor() {
    super('the worker was told to stop while it started');
    this.name = 'WorkerStopped';
  }
}
