import { connectionFor, ensureGroups, LANES, takeJobs, type QueueKeys, type RedisClient, type TakeRequest, type TakeResult } from '@conveyor/shared';
import { Cluster } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobRunner } from './job-runner.js';
import type { PauseState } from './pause-state.js';
import { noteDeadOut, noteRepeatedCall, stageRequest, type ServedStage, type WorkerContext } from './worker-context.js';

/**
 * Most jobs one take asks for. With takes smaller than the worker's concurrency, Redis starts
 * the next batch while this process runs the last one (measured here: 8.3k instead of 7.4k
 * no-op jobs/s at CONCURRENCY 256).
 */
export const TAKE_BATCH = 64;

/** What a blocking read's connection emits when it may have lost that read: a single client's error, a cluster client's dropped or failing node (see #waitForEntries). */
const CONNECTION_TROUBLE = ['error', 'node error', '-node'] as const;

/**
 * Takes jobs of one queue's served stages while the worker has free slots. When every lane
 * ran dry it blocks on XREAD (not XREADGROUP: nothing is delivered outside the take script)
 * from each lane's last entry, so it wakes on the next new entry and never misses one.
 * One reader per queue: all of a queue's keys share a hash slot, so its blocking read is
 * legal on Redis Cluster too.
 */
export class QueueReader {
  readonly #keys: QueueKeys;
  #rotation = 0;
  #failures = 0;
  /** This queue's Redis may be lost (a round failed, a blocking read went unanswered): see #untilAnswered. */
  #suspect = false;
  /**
   * The last blocking read brought no new entry (BLOCK_MS passed, a wake, or it got no answer):
   * the next round only looks around, and each of its takes keeps one slot, not every free one.
   * Such a take was sent to a Cluster primary whose connection had just gone silent (a failover
   * under way, here a takeover's) and kept every free slot of the worker until REDIS_TIMEOUT
   * replaced the connection: the worker's other queues, on other primaries, waited with it (a
   * document taken 3.2 s after the loss in test/faults/cluster-takeover-node-lost, once in 12
   * runs: when BLOCK_MS ran out on this queue's read just after the takeover was sent). A look
   * around that finds jobs took one; the lanes are not dry, and the next round takes at once,
   * with every free slot.
   */
  #lookingAround = false;
  /**
   * While a blocking read is under way, its connection's CLIENT ID (asked for with the read, on
   * the same connection: on Redis Cluster, the one to the node serving this queue), to interrupt
   * it when the paused set changes.
   */
  #blockingId: Promise<number | undefined> | undefined;
  /** The connection of this reader's blocking reads (its own: a blocking read holds it). */
  #blocking: RedisClient;
  /** Waiting for a free slot (every slot of the worker is in use). */
  #waitingForSlot = false;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly stages: readonly ServedStage[],
    private readonly runner: JobRunner,
    /** Opens a connection for blocking reads: one at start, another if one stops answering. */
    private readonly connectBlocking: () => RedisClient,
    private readonly pauses: PauseState,
  ) {
    this.#keys = ctx.keysOf(stages[0]!.pipeline.name);
    this.#blocking = connectBlocking();
  }

  /** Closes the blocking connection, which ends a blocking read under way. */
  close(): void {
    this.#blocking.disconnect();
  }

  /** Ends a blocking read under way, so the next round sees what changed (a resumed stage). */
  wake(): void {
    void this.#blockingId
      ?.then((id) => {
        if (id !== undefined) return connectionFor(this.ctx.redis, this.#keys.base)?.client('UNBLOCK', id);
      })
      .catch(() => {});
  }

  get queue(): string {
    return this.#keys.queue;
  }

  /**
   * Waiting for a slot. While one is, other queues' completions take nothing along (see Worker),
   * so that the slots they free go round the readers instead of staying with the busiest queue.
   * It may have no jobs to take (its last blocking read ran out): then it looks around with one
   * slot, gives it back and blocks again, which costs the busy queue one take along per BLOCK_MS.
   */
  get waitingForSlot(): boolean {
    return this.#waitingForSlot;
  }

  /**
   * What to take along with completions that free `count` slots (see TakeAlong): nothing while
   * the worker stops, while the lanes are dry (the blocking read is waiting), or when this
   * reader serves several stages or a paused one (its own loop picks among them).
   */
  takeAlongRequest(count: number): TakeRequest | undefined {
    const served = this.stages[0]!;
    if (!this.ctx.isTaking() || this.ctx.slots.wanted > 0 || this.#blockingId !== undefined || this.stages.length !== 1 || this.pauses.isPaused(served.pipeline.name, served.stage)) return undefined;
    return { ...stageRequest(this.ctx, served), count, lanes: LANES, agingMs: this.ctx.config.PRIORITY_AGING };
  }

  /** Starts the jobs a take along brought, in the slots of the completions that brought them. */
  startTakenAlong(result: TakeResult): void {
    noteDeadOut(this.ctx, this.queue, this.stages[0]!.stage, result.deadOut);
    this.ctx.slots.transfer(result.jobs.length);
    for (const job of result.jobs) this.runner.start(job);
  }

  async run(): Promise<void> {
    while (this.ctx.isTaking()) {
      if (this.#suspect) await this.#untilAnswered();
      this.#waitingForSlot = true;
      await this.ctx.slots.whenFree();
      this.#waitingForSlot = false;
      if (!this.ctx.isTaking()) break;
      try {
        const wait = await this.#takeRound();
        if (wait && this.ctx.isTaking()) this.#lookingAround = !(await this.#waitForEntries(wait));
        this.#failures = 0;
      } catch (error) {
        if (!this.ctx.isTaking()) break;
        this.#suspect = true;
        this.#lookingAround = false;
        await this.#recover(error as Error);
      }
    }
  }

  /**
   * Waits, holding no slot, until Redis answers a read on this queue's hash slot. A take keeps the
   * free slots it may fill until it is answered: sent to a Cluster primary that was failing over,
   * it kept every free slot of the worker until the failover ended, and the worker's other
   * queues, on other primaries, waited with it.
   */
  async #untilAnswered(): Promise<void> {
    while (this.ctx.isTaking()) {
      try {
        await this.ctx.redis.exists(this.#keys.paused);
        this.#suspect = false;
        return;
      } catch (error) {
        if (!this.ctx.isTaking()) return;
        await this.#recover(error as Error);
      }
    }
  }

  /** One take per served stage that is not paused, rotating which goes first. Returns what to block on when all ran dry. */
  async #takeRound(): Promise<[string, string][] | undefined> {
    const wait: [string, string][] = [];
    const open = this.stages.filter((served) => !this.pauses.isPaused(served.pipeline.name, served.stage));
    if (open.length === 0) {
      await this.pauses.whenChanged(this.ctx.config.BLOCK_MS);
      return undefined;
    }
    const order = open.map((_, i) => open[(i + this.#rotation) % open.length]!);
    this.#rotation = (this.#rotation + 1) % this.stages.length;
    for (const served of order) {
      const reserved = this.ctx.slots.reserve(this.#lookingAround ? 1 : TAKE_BATCH);
      if (reserved === 0) return undefined;
      let taken = 0;
      try {
        const result = await takeJobs(this.ctx.redis, this.#keys, { ...stageRequest(this.ctx, served), count: reserved, lanes: LANES, agingMs: this.ctx.config.PRIORITY_AGING });
        taken = result.jobs.length;
        if (result.repeated) noteRepeatedCall(this.ctx, 'take', this.queue, taken);
        noteDeadOut(this.ctx, this.queue, served.stage, result.deadOut);
        for (const job of result.jobs) this.runner.start(job);
        if (!result.wait) {
          this.#lookingAround = false;
          return undefined;
        }
        for (const [lane, id] of result.wait) wait.push([this.#keys.stream(served.stage, lane), id]);
      } finally {
        this.ctx.slots.release(reserved - taken);
      }
    }
    return wait;
  }

  /** Blocks until a lane has a new entry or BLOCK_MS passes. Returns whether the read brought an entry. */
  async #waitForEntries(wait: [string, string][]): Promise<boolean> {
    const blocking = this.#blocking;
    // Written back to back on one connection, so the ID is that of the connection that blocks.
    const id = connectionFor(blocking, this.#keys.base)?.client('ID');
    this.#blockingId = (id ?? Promise.resolve(undefined)).then(Number, () => undefined);
    const read = blocking.xread('COUNT', 1, 'BLOCK', this.ctx.config.BLOCK_MS, 'STREAMS', ...wait.map(([stream]) => stream), ...wait.map(([, id]) => id));
    // A read answers within BLOCK_MS. On Redis Cluster, one sent as its node was lost can be left
    // unanswered for good by the cluster client (seen in test/faults/cluster-partition-failover:
    // 35 s and more, past the silence timeout, on the lost node's queues and on others'): the
    // reader stops waiting for it and reads on a new connection, so the queue is not left unread.
    // It waits BLOCK_MS + REDIS_TIMEOUT, or BLOCK_MS from an error of the connection, if sooner.
    // A cluster client does not say "error" when one of its nodes dies: it drops the node from its
    // pool ("-node", at once when its connection ends) or reports "node error". Both count here:
    // when another queue's primary was killed, a read on this queue's node was once left
    // unanswered until BLOCK_MS + REDIS_TIMEOUT.
    const { BLOCK_MS, REDIS_TIMEOUT } = this.ctx.config;
    const started = Date.now();
    let deadline = started + BLOCK_MS + REDIS_TIMEOUT;
    let timer: NodeJS.Timeout | undefined;
    let giveUp = () => {};
    const stuck = new Promise<'stuck'>((resolve) => (giveUp = () => resolve('stuck')));
    const waitUntil = (at: number) => {
      deadline = at;
      clearTimeout(timer);
      timer = setTimeout(expire, Math.max(0, at - Date.now()));
    };
    // A single client (not a cluster's) sends a read it lost again once it is connected again,
    // and the read then blocks BLOCK_MS from there: it is waited for so, neither given up BLOCK_MS
    // after the error nor while the client reconnects (after every Redis restart, and while Redis
    // was down, the worker warned that a read "got no answer").
    const single = !(blocking instanceof Cluster);
    const onError = () => {
      if (!single && Date.now() + BLOCK_MS < deadline) waitUntil(Date.now() + BLOCK_MS);
    };
    const onReady = () => waitUntil(Date.now() + BLOCK_MS + REDIS_TIMEOUT);
    const expire = () => (single && blocking.status !== 'ready' ? waitUntil(Date.now() + BLOCK_MS) : giveUp());
    waitUntil(deadline);
    for (const event of CONNECTION_TROUBLE) blocking.on(event, onError);
    if (single) blocking.on('ready', onReady);
    try {
      const outcome = await Promise.race([read, stuck]);
      if (outcome !== 'stuck') return outcome !== null;
      read.catch(() => {});
      this.ctx.logger.warn({ queue: this.queue, waited_ms: Date.now() - started }, 'a blocking read got no answer; reading on a new connection');
      this.#suspect = true;
      if (this.ctx.isTaking()) this.#blocking = this.connectBlocking();
      blocking.disconnect();
      return false;
    } finally {
      clearTimeout(timer);
      for (const event of CONNECTION_TROUBLE) blocking.off(event, onError);
      blocking.off('ready', onReady);
      this.#blockingId = undefined;
    }
  }

  async #recover(error: Error): Promise<void> {
    this.ctx.refusals.note(error);
    this.#failures += 1;
    const delay = Math.min(2_000, 100 * 2 ** Math.min(this.#failures, 5));
    if (error.message.startsWith('NOGROUP')) {
      this.ctx.logger.warn({ queue: this.queue }, 'a consumer group was missing (stream deleted?); creating it again');
      await ensureGroups(this.ctx.redis, this.ctx.config.KEY_PREFIX, [this.stages[0]!.pipeline]).catch(() => {});
    } else if (!this.ctx.foreignKeys.handled(error, this.queue)) {
      this.ctx.logger.warn({ err: error.message, queue: this.queue, retry_in_ms: delay }, 'reading jobs failed; retrying');
    }
    await sleep(delay);
  }
}
