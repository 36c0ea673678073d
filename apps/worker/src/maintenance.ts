import { LANES, PROMOTE_BATCH, WALK_START, countLapsed, ensureConsumer, findLostJobs, firstStage, groupName, heartbeat, leaveQueue, promoteDueJobs, pruneIdleConsumers, reclaimStale, trimHistory, type Pipeline, type PromoteResult, type TakenJob, type TrimmedHistory, type WalkPosition } from '@conveyor/shared';
import type { PauseState } from './pause-state.js';
import { attemptPolicy, noteDeadOut, noteRepeatedCall, recordLost, stageRequest, type ServedStage, type WorkerContext } from './worker-context.js';

/**
 * How many ticks a worker's word that it reads a queue lasts: 10 s at the default interval, so a
 * worker whose event loop was busy for a few seconds does not drop out of GET /queues.
 */
const LIVE_TICKS = 10;

/** Pages of a queue's queued index one round looks through for lost jobs: 5,000 lines, about 10 ms of Redis in 5 calls. */
const LOST_JOB_PAGES_PER_ROUND = 5;

/**
 * Housekeeping every worker does for the stages it serves, so no single scheduler process is
 * needed: any worker may run any step at any time, because each step is one atomic script.
 * Each queue ticks on its own, one tick at a time: its keys share one hash tag, so in a Redis
 * Cluster a queue lives on one node, and a step that a lost node holds up (a takeover waiting out
 * REDIS_TIMEOUT during a failover) holds up no other queue's promotions and takeovers.
 *   - say that it reads the queue, for the next LIVE_TICKS ticks (every interval, on a timer of
 *     its own, so that a slow step of the queue's own tick does not silence it; see QueueKeys.workers)
 *   - re-read which of its stages are paused (every tick)
 *   - promote delayed jobs whose time has come (every tick, and on time for those due sooner)
 *   - take over jobs whose lease lapsed, when this worker has free slots (every tick; not for a
 *     lease after Redis refused writes or failed to answer, see RedisRefusals)
 *   - trim acknowledged stream history, make sure its own consumer is in each group it serves,
 *     prune consumers that left, and look through the queued index for jobs whose stream entry
 *     another client deleted (queued again, or dead-lettered; every TRIM_INTERVAL)
 */
export class Maintenance {
  #stopped = true;
  /** Per queue, the timer of its next tick and the tick under way. */
  readonly #ticks = new Map<string, { timer: NodeJS.Timeout | undefined; running: Promise<void> | undefined }>();
  /** Per queue, when its history was last trimmed (every TRIM_INTERVAL). */
  readonly #lastTrims = new Map<string, number>();
  /** Streams found with entry IDs ahead of the clock, warned of once while that lasts. */
  readonly #streamsAhead = new Set<string>();
  /** Per stream, the other program's group last said to hold its history back (see noteHeldBack). */
  readonly #heldBack = new Map<string, string>();
  #wordTimer: NodeJS.Timeout | undefined;
  /** Per queue, the word on its way: one at a time, so a queue whose Redis does not answer piles none up. */
  readonly #words = new Map<string, Promise<void>>();
  #lastSweep = 0;
  readonly #queues: string[];
  /** Per queue, where its walk of the queued index for lost jobs goes on from (see findLostJobs). */
  readonly #lostJobWalks = new Map<string, WalkPosition>();
  /** Per queue, the timer that promotes its next delayed job when due, if before the next tick. */
  readonly #wakeups = new Map<string, { at: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly ctx: WorkerContext,
    private readonly stages: readonly ServedStage[],
    private readonly startJob: (job: TakenJob) => void,
    private readonly pauses: PauseState,
  ) {
    this.#queues = [...new Set(stages.map((served) => served.pipeline.name))];
  }

  start(): void {
    this.#stopped = false;
    const say = () => {
      this.#sayReading();
      if (!this.#stopped) this.#wordTimer = setTimeout(say, this.#jitteredInterval());
    };
    this.#wordTimer = setTimeout(say, 0);
    for (const queue of this.#queues) {
      const tick = { timer: undefined as NodeJS.Timeout | undefined, running: undefined as Promise<void> | undefined };
      const run = () => {
        tick.running = this.runOnce(queue)
          .catch((error: Error) => {
            this.ctx.refusals.note(error);
            if (!this.ctx.foreignKeys.handled(error, queue)) this.ctx.logger.warn({ err: error.message, queue }, 'maintenance step failed; trying again shortly');
          })
          .finally(() => {
            if (!this.#stopped) tick.timer = setTimeout(run, this.#jitteredInterval());
          });
      };
      tick.timer = setTimeout(run, 0);
      this.#ticks.set(queue, tick);
    }
  }

  /** MAINTENANCE_INTERVAL, give or take a quarter: jitter keeps a fleet that started together from ticking together. */
  #jitteredInterval(): number {
    return this.ctx.config.MAINTENANCE_INTERVAL * (0.75 + Math.random() / 2);
  }

  /**
   * Stops ticking; resolves when the step under way (which may be waiting on Redis) ends. The
   * worker then takes no more jobs, and says so (it reads its queues no more).
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const tick of this.#ticks.values()) clearTimeout(tick.timer);
    clearTimeout(this.#wordTimer);
    for (const { timer } of this.#wakeups.values()) clearTimeout(timer);
    this.#wakeups.clear();
    await Promise.all([...this.#ticks.values()].map((tick) => tick.running));
    // A word still on its way would say the worker reads the queue after it left.
    await Promise.all(this.#words.values());
    await Promise.all(this.#queues.map((queue) => leaveQueue(this.ctx.redis, this.ctx.keysOf(queue), this.ctx.consumer, this.ctx.config.CONSUMER_RETENTION, this.ctx.config.LEASE_MS))).catch(() => {});
  }

  /**
   * Says, for each queue whose last word is not still on its way, that this worker reads it.
   * Each queue's word goes on its own: one whose Redis refuses (full, read-only) or does not
   * answer holds up no other.
   */
  #sayReading(): void {
    const { MAINTENANCE_INTERVAL, CONSUMER_RETENTION, TRIM_INTERVAL, LEASE_MS } = this.ctx.config;
    // Workers that died without a word are swept out as often as history is trimmed.
    const sweep = Date.now() - this.#lastSweep >= TRIM_INTERVAL;
    if (sweep) this.#lastSweep = Date.now();
    for (const queue of this.#queues) {
      if (this.#words.has(queue)) continue;
      const word = heartbeat(this.ctx.redis, this.ctx.keysOf(queue), this.ctx.consumer, MAINTENANCE_INTERVAL * LIVE_TICKS, CONSUMER_RETENTION, sweep && this.#stagesOf(queue), LEASE_MS)
        .then(
          () => undefined,
          (error: Error) => {
            this.ctx.refusals.note(error);
            if (!this.ctx.foreignKeys.handled(error, queue)) this.ctx.logger.debug({ err: error.message, queue }, 'could not say this worker reads the queue');
          },
        )
        .finally(() => this.#words.delete(queue));
      this.#words.set(queue, word);
    }
  }

  /** `queue`'s pipeline (one of its stages is served here). */
  #pipelineOf(queue: string): Pipeline {
    return this.stages.find((served) => served.pipeline.name === queue)!.pipeline;
  }

  /** Every stage of `queue`, served here or not: where a worker's entries may be held. */
  #stagesOf(queue: string): readonly string[] {
    return this.#pipelineOf(queue).stages;
  }

  /** One tick of `queue`'s housekeeping. */
  async runOnce(queue: string): Promise<void> {
    await this.pauses.refresh([queue]);
    await this.promote(queue);
    await this.reclaim(queue);
    if (Date.now() - (this.#lastTrims.get(queue) ?? 0) >= this.ctx.config.TRIM_INTERVAL) {
      this.#lastTrims.set(queue, Date.now());
      await this.trim(queue);
    }
  }

  /**
   * Queues every due delayed job of `queue`, PROMOTE_BATCH per call (one call a tick took 20 s
   * to queue 10,000 jobs due at once), then, when the next job is due before the next tick could
   * see it, sets a timer for it: a delayed job runs at its time, not up to a tick later.
   */
  async promote(queue: string): Promise<void> {
    const keys = this.ctx.keysOf(queue);
    const logEach = this.ctx.logger.isLevelEnabled('debug');
    let promoted: PromoteResult;
    do {
      promoted = await promoteDueJobs(this.ctx.redis, keys, this.ctx.retentionSeconds);
      // A delayed job's or a retry's wait is over: it is queued again (one line per transition).
      if (logEach) for (const jobId of promoted.jobIds) this.ctx.logger.debug({ job_id: jobId, queue }, 'job queued after its delay');
      // Its stage went with its record: its dead letter, and so its count, names the queue's first.
      noteDeadOut(this.ctx, queue, firstStage(this.#pipelineOf(queue)), promoted.recordLost.map(recordLost));
    } while (promoted.moved === PROMOTE_BATCH && !this.#stopped);
    this.wakeFor(queue, promoted.nextDueInMs);
  }

  /**
   * Promotes `queue`'s delayed jobs in `dueInMs`, unless the next tick comes before then (it
   * sees them, and sets the timer). Called with what a promotion says is due next, and with the
   * hints the API sends (a job delayed until soon) and the runner gives (a retry after its
   * backoff).
   */
  wakeFor(queue: string, dueInMs: number | undefined): void {
    // The next tick comes within 1.25 intervals (jitter) and sets a timer then.
    if (dueInMs === undefined || dueInMs > this.ctx.config.MAINTENANCE_INTERVAL * 1.25 || this.#stopped || !this.#queues.includes(queue)) return;
    const at = Date.now() + dueInMs;
    const current = this.#wakeups.get(queue);
    if (current && current.at <= at) return;
    clearTimeout(current?.timer);
    const timer = setTimeout(() => {
      this.#wakeups.delete(queue);
      if (this.#stopped) return;
      this.promote(queue).catch((error: Error) => {
        this.ctx.refusals.note(error);
        this.ctx.logger.warn({ err: error.message, queue }, 'promoting delayed jobs failed; the next tick tries again');
      });
    }, dueInMs);
    this.#wakeups.set(queue, { at, timer });
  }

  /**
   * Takes over `queue`'s jobs whose lease lapsed, up to this worker's free slots. A busy worker has none:
   * new jobs would take every slot as it frees, and a dead worker's jobs would wait until the
   * backlog is gone (35 s under load in test/faults/chaos). So when lapsed jobs wait and no slot
   * is free, the next slots that free up are kept for them, and the next tick takes them over:
   * they have waited longest.
   *
   * Slots are kept only while lapsed jobs remain: a tick that finds none gives them back.
   *
   * Lapsed jobs are counted before any slot is kept for them. Slots kept through a call that its
   * Redis node holds up (a primary failing over) kept the other queues' jobs waiting too, for
   * the whole failover (3.6 s and 4.5 s in test/faults/cluster-failover). Each queue keeps slots
   * under its own name, so one queue's tick giving its slots back leaves another's kept.
   */
  async reclaim(queue: string): Promise<void> {
    if (this.ctx.refusals.seenWithin(this.ctx.config.LEASE_MS)) return;
    const open = this.stages.filter((served) => served.pipeline.name === queue && !this.pauses.isPaused(queue, served.stage));
    for (const [i, served] of open.entries()) {
      if (!this.ctx.isTaking()) return;
      const lapsed = await this.#lapsedCount([served]);
      if (lapsed === 0) continue;
      // Again after the reads: ones sent while Redis was away were answered once it came back.
      if (this.ctx.refusals.seenWithin(this.ctx.config.LEASE_MS)) return;
      const reserved = this.ctx.slots.reserveForTakeover(lapsed, queue);
      if (reserved === 0) {
        this.ctx.slots.want(lapsed + (await this.#lapsedCount(open.slice(i + 1))), queue);
        return;
      }
      let taken = 0;
      try {
        const keys = this.ctx.keysOf(served.pipeline.name);
        const result = await reclaimStale(this.ctx.redis, keys, { ...stageRequest(this.ctx, served), count: reserved, lanes: LANES }, this.ctx.config.LEASE_MS);
        taken = result.jobs.length;
        if (result.repeated) noteRepeatedCall(this.ctx, 'take over', queue, taken);
        for (const job of result.jobs) {
          // A job a stopping worker let go of (a deploy) is routine; a lapsed lease is not.
          if (result.released.has(job)) {
            this.ctx.logger.info({ job_id: job.jobId, stage: job.stage, attempt: job.attempt }, 'took over a job a stopping worker released');
          } else {
            this.ctx.logger.warn({ job_id: job.jobId, stage: job.stage, attempt: job.attempt }, 'took over a job whose lease lapsed');
            this.ctx.metrics.reclaimed.inc({ queue: job.queue, stage: job.stage });
          }
          this.startJob(job);
        }
        noteDeadOut(this.ctx, queue, served.stage, result.deadOut);
        if (result.lost > 0) this.ctx.logger.warn({ stage: served.stage, lost: result.lost }, 'entries deleted from the stream while held; their attempts failed');
      } finally {
        this.ctx.slots.release(reserved - taken);
      }
    }
    // Nothing is left to take over (another worker may have taken what slots were kept for):
    // the readers get those slots back. Kept on, they left a worker idle for good, with nothing
    // in flight (test/faults/kept-slots.test.ts).
    this.ctx.slots.want(0, queue);
  }

  /** How many entries of these stages have been held past their holder's lease, up to CONCURRENCY (reads only; a stage's lanes in one call). */
  async #lapsedCount(stages: readonly ServedStage[]): Promise<number> {
    let count = 0;
    for (const served of stages) {
      count += await countLapsed(this.ctx.redis, this.ctx.keysOf(served.pipeline.name), served.stage, this.ctx.config.LEASE_MS, this.ctx.slots.size - count);
      if (count >= this.ctx.slots.size) break;
    }
    return count;
  }

  /**
   * Warns, once while it lasts, of a stream whose entry IDs are ahead of the clock: another
   * producer gave an explicit ID, and every later entry (the API's too) is numbered after it.
   */
  #noteIdsAhead(stream: string, aheadMs: number): void {
    if (aheadMs === 0) {
      this.#streamsAhead.delete(stream);
      return;
    }
    if (this.#streamsAhead.has(stream)) return;
    this.#streamsAhead.add(stream);
    this.ctx.logger.warn(
      { stream, ahead_ms: aheadMs, until: new Date(Date.now() + aheadMs).toISOString() },
      "stream IDs are ahead of the clock: an entry was added with an explicit ID; until the clock passes it, this stream's jobs show that time as created_at, do not age, and keep no history",
    );
  }

  /**
   * Says, once while it lasts, that another program's consumer group keeps a stream's history from
   * being trimmed: a group made to watch the entries that stopped reading them holds every entry
   * since, and the stream grows for good.
   */
  #noteHeldBack(stream: string, heldBack: TrimmedHistory['heldBack']): void {
    const said = this.#heldBack.get(stream);
    if (!heldBack) {
      this.#heldBack.delete(stream);
      return;
    }
    if (said === heldBack.group) return;
    this.#heldBack.set(stream, heldBack.group);
    this.ctx.logger.warn(
      { stream, group: heldBack.group, since: heldBack.from },
      `consumer group "${heldBack.group}" is not Conveyor's and keeps this stream's history from being trimmed: ${heldBack.from === '0-0' ? 'it has read none of its entries' : `it has not read or acknowledged its entries from ${heldBack.from} on`}. Let it read on, or delete it (XGROUP DESTROY) if nothing uses it`,
    );
  }

  /** Trims `queue`'s history and dead letters, looks after its consumers, and looks for its lost jobs. */
  async trim(queue: string): Promise<void> {
    const { redis, config } = this.ctx;
    const keys = this.ctx.keysOf(queue);
    // A step Redis refuses (a stream another program's key holds, a script's error) is no reason
    // to skip the others, lost-job recovery least of all: each runs, and the first refusal is
    // thrown at the end. A Redis that does not answer ends the round at once.
    let refusal: Error | undefined;
    const step = async (run: () => Promise<unknown>) => {
      try {
        await run();
      } catch (error) {
        if ((error as Error).name !== 'ReplyError') throw error;
        refusal ??= error as Error;
      }
    };
    for (const served of this.stages.filter((each) => each.pipeline.name === queue)) {
      for (const lane of LANES) {
        const stream = keys.stream(served.stage, lane);
        await step(async () => {
          const trimmed = await trimHistory(redis, stream, config.STREAM_HISTORY, 'consumed', groupName(served.stage));
          this.#noteIdsAhead(stream, trimmed.aheadMs);
          this.#noteHeldBack(stream, trimmed.heldBack);
          if (trimmed.removed > 0) this.ctx.logger.debug({ stream, trimmed: trimmed.removed }, 'trimmed history');
        });
        // This worker's own consumer, in every lane it serves, also where it has read nothing
        // (gone after Redis restarted, see ensureConsumer), so that it counts as live there.
        await step(() => ensureConsumer(redis, stream, groupName(served.stage), this.ctx.consumer));
        await step(async () => {
          const pruned = await pruneIdleConsumers(redis, stream, groupName(served.stage), config.CONSUMER_RETENTION, this.ctx.consumer, keys.workers);
          if (pruned > 0) this.ctx.logger.debug({ stream, pruned_consumers: pruned }, 'pruned consumers that left');
        });
      }
    }
    await step(() => trimHistory(redis, keys.dead, config.JOB_RETENTION, 'age'));
    await step(() => this.findLostJobs(queue));
    if (refusal) throw refusal;
  }

  /**
   * Looks through the next pages of `queue`'s queued index for jobs whose stream entry another
   * client deleted before any worker read it (XADD MAXLEN, XTRIM, XDEL). A job with a record is
   * queued again from it; a job the API queued without one lost its input with the entry and is
   * dead-lettered: it does not vanish without a trace. A first attempt whose stream was deleted
   * whole while a worker that has since died held it fails, since no takeover can meet it. Up to
   * LOST_JOB_PAGES_PER_ROUND pages a round, each a call of its own, so a backlog of 100,000 jobs is
   * walked in 20 rounds.
   */
  async findLostJobs(queue: string): Promise<void> {
    const stage = firstStage(this.#pipelineOf(queue));
    const { defaultMaxAttempts, retentionSeconds } = attemptPolicy(this.ctx, queue);
    for (let pages = 0; pages < LOST_JOB_PAGES_PER_ROUND; pages++) {
      const page = await findLostJobs(this.ctx.redis, this.ctx.keysOf(queue), stage, this.#lostJobWalks.get(queue) ?? WALK_START, retentionSeconds, defaultMaxAttempts);
      this.#lostJobWalks.set(queue, { cursor: page.cursor, resume: page.resume });
      for (const jobId of page.lost) {
        this.ctx.logger.error({ job_id: jobId, queue, stage }, 'job lost: another Redis client deleted its stream entry before any worker read it; dead-lettered (ENTRY_LOST)');
        this.ctx.metrics.dead.inc({ queue, stage });
      }
      for (const jobId of page.requeued) this.ctx.logger.warn({ job_id: jobId, queue }, 'job queued again: another Redis client deleted its stream entry before any worker read it');
      for (const jobId of page.outside) {
        this.ctx.logger.error({ job_id: jobId, queue }, "job taken outside Conveyor: a Redis client that is not a Conveyor worker read and acknowledged its entry in the stage's consumer group (or moved the group past it); dead-lettered (TAKEN_OUTSIDE), retry it to run it");
        this.ctx.metrics.dead.inc({ queue, stage });
      }
      for (const jobId of page.failed) {
        this.ctx.logger.warn({ job_id: jobId, queue, stage }, 'attempt failed: its stream was deleted whole (pending list and all) while a worker that has since died held it (ENTRY_DELETED)');
        this.ctx.metrics.failed.inc({ queue, stage });
      }
      if (page.cursor === '0' && page.resume === '') return;
    }
  }
}
