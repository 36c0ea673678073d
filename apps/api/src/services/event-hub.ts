import { createRedis, findDeclaredPipeline, findPipeline, isPermissionRefusal, onSubscriptionsRestored, queueNameOf, queueOfJobId, QueueKeys, servedQueuesOf, type PartitionCounts, type RedisClient } from '@conveyor/shared';
import type { FastifyBaseLogger } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProblemError } from '../problems/problem-error.js';
import { asRedisUnavailable, permissionProblem } from '../problems/redis-errors.js';

/** A job event as the transition scripts publish it on `<prefix>:{<queue>}:events`. */
export interface JobEvent {
  event: string;
  job_id: string;
  at: number;
  [detail: string]: unknown;
}

export type EventListener = (event: JobEvent) => void;

/** What a queue's listeners are told when the subscription is back (see RESYNC): no job's event. */
export interface QueueResync {
  event: typeof RESYNC;
  at: number;
  queue: string;
}

export type QueueEventListener = (event: JobEvent | QueueResync) => void;

/**
 * Not a job's event: told to every listener when the subscriber connection is back after it was
 * lost. Whatever was published meanwhile is gone (pub/sub keeps nothing), so a listener reads
 * the state again rather than wait for an event that will not come.
 */
export const RESYNC = 'resync' as const;

/** What a transition script names its events (`stage-completed`): no line breaks, nothing else that SSE reads. */
const EVENT_NAME = /^[a-z][a-z-]{0,39}$/;

/** Events after which a job changes no more. */
export const TERMINAL_EVENTS: ReadonlySet<string> = new Set(['completed', 'dead', 'cancelled']);

/** How long a new listener waits for Redis to confirm its channel's subscription. */
const SUBSCRIBE_TIMEOUT_MS = 1_000;

/**
 * A watched channel's mark lives this long and is renewed three times as often: the scripts
 * publish a queue's events only while it is marked (or has a subscriber on their node).
 */
const WATCH_TTL_MS = 30_000;
/** How often the marks are tried again after a reconnect, until the command connection takes them. */
const MARK_RETRY_MS = 250;

interface Subscription {
  /** The queue, or the partition of a queue, whose channel this is. */
  queue: string;
  /** The queue that names its listeners (a partitioned queue's for each of its partitions). */
  listenedAs: string;
  listeners: number;
  ready: Promise<unknown>;
}

/**
 * One pub/sub connection per API process, fanned out in memory to any number of listeners (SSE
 * clients) by job and by queue. Many clients watching many jobs cost one Redis connection, not
 * one each. A queue's events channel is subscribed only while someone listens to it, and marked
 * watched (QueueKeys.eventsWatched) meanwhile: the scripts publish nothing nobody watches.
 */
export class EventHub {
  readonly #subscriber: RedisClient;
  readonly #renewal: NodeJS.Timeout;
  readonly #byJob = new Map<string, Set<EventListener>>();
  readonly #byQueue = new Map<string, Set<QueueEventListener>>();
  readonly #keysOfQueue = new Map<string, QueueKeys>();
  readonly #subscriptions = new Map<string, Subscription>();

  constructor(
    connection: { url: string; cluster: boolean; seeds: readonly string[]; silenceTimeoutMs: number },
    private readonly prefix: string,
    private readonly partitions: PartitionCounts,
    private readonly redis: RedisClient,
    private readonly logger: FastifyBaseLogger,
  ) {
    this.#subscriber = createRedis(connection.url, { role: 'subscriber', name: 'conveyor:api:events', silenceTimeoutMs: connection.silenceTimeoutMs, cluster: connection.cluster, seeds: connection.seeds });
    this.#subscriber.on('message', (channel: string, text: string) => this.#dispatch(channel, text));
    onSubscriptionsRestored(this.#subscriber, () => {
      this.#resync().catch((error: Error) => this.logger.warn({ err: error.message }, 'could not resubscribe the events channels after a reconnect'));
    });
    this.#renewal = setInterval(() => this.#renewWatchMarks(), WATCH_TTL_MS / 3).unref();
  }

  close(): void {
    clearInterval(this.#renewal);
    this.#subscriber.disconnect();
  }

  /**
   * Calls `listener` with each event of the job until the returned function is called. Resolves
   * once the job's channel is subscribed, so an event published after that is not missed.
   */
  async onJob(jobId: string, listener: EventListener): Promise<() => void> {
    const queue = queueOfJobId(jobId);
    const release = queue === undefined ? () => {} : await this.#listenTo(queue);
    const remove = add(this.#byJob, jobId, listener);
    return () => {
      remove();
      release();
    };
  }

  /** Calls `listener` with each event of the queue (of all its partitions) until the returned function is called. */
  async onQueue(queue: string, listener: QueueEventListener): Promise<() => void> {
    const pipeline = findDeclaredPipeline(queue);
    const served = pipeline ? servedQueuesOf(pipeline, this.partitions) : [];
    const outcomes = await Promise.allSettled(served.map((each) => this.#listenTo(each.name)));
    const releases = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const refused = outcomes.find((outcome) => outcome.status === 'rejected');
    if (refused) {
      for (const release of releases) release();
      throw refused.reason;
    }
    const remove = add(this.#byQueue, queue, listener);
    return () => {
      remove();
      for (const release of releases) release();
    };
  }

  /** The keys of a queue or partition, or undefined for a name that is neither. */
  #keysOf(queue: string): QueueKeys | undefined {
    let keys = this.#keysOfQueue.get(queue);
    if (!keys && findPipeline(queue)) this.#keysOfQueue.set(queue, (keys = new QueueKeys(this.prefix, queue)));
    return keys;
  }

  /** Listeners now registered, for tests and metrics. */
  get listeners(): number {
    let count = 0;
    for (const set of [...this.#byJob.values(), ...this.#byQueue.values()]) count += set.size;
    return count;
  }

  /** Channels subscribed now. */
  get channels(): string[] {
    return [...this.#subscriptions.keys()];
  }

  /** Subscribes the queue's channel (once for any number of listeners); the returned function lets go of it. */
  async #listenTo(queue: string): Promise<() => void> {
    const channel = this.#keysOf(queue)?.events;
    if (channel === undefined) return () => {};
    let subscription = this.#subscriptions.get(channel);
    if (!subscription) {
      subscription = { queue, listenedAs: queueNameOf(findPipeline(queue)!), listeners: 0, ready: Promise.all([this.#subscriber.subscribe(channel), this.#markWatched(queue)]) };
      this.#subscriptions.set(channel, subscription);
    }
    subscription.listeners += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      subscription.listeners -= 1;
      if (subscription.listeners > 0 || this.#subscriptions.get(channel) !== subscription) return;
      this.#subscriptions.delete(channel);
      this.#subscriber.unsubscribe(channel).catch((error: Error) => this.logger.debug({ err: error.message, channel }, 'unsubscribe failed'));
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProblemError('service-unavailable', `Redis did not confirm the subscription to ${queue}'s events within ${SUBSCRIBE_TIMEOUT_MS} ms; it may be unreachable. Nothing was changed.`, {}, { 'retry-after': '1' })), SUBSCRIBE_TIMEOUT_MS);
    });
    try {
      await Promise.race([subscription.ready, timeout]);
    } catch (error) {
      release();
      if (error instanceof ProblemError) throw error;
      // Not the client's doing, and nothing was changed: a 503 to try again, not a 500. A user
      // without the queue's channel waits for an operator, as any refused command does.
      if (isPermissionRefusal(error)) throw permissionProblem(error as Error, this.prefix, true);
      throw asRedisUnavailable(error, true) ?? new ProblemError('service-unavailable', `Redis refused the subscription to ${queue}'s events (${(error as Error).message}). Nothing was changed; try again.`, {}, { 'retry-after': '1' });
    } finally {
      clearTimeout(timer);
    }
    return release;
  }

  #markWatched(queue: string): Promise<unknown> {
    return this.redis.set(this.#keysOf(queue)!.eventsWatched, '1', 'PX', WATCH_TTL_MS);
  }

  #renewWatchMarks(): void {
    for (const { queue } of this.#subscriptions.values()) {
      this.#markWatched(queue).catch((error: Error) => this.logger.warn({ err: error.message, queue }, 'could not renew the events channel watch mark'));
    }
  }

  /**
   * After a reconnect: ioredis subscribes the channels again; one more SUBSCRIBE on the same
   * connection answers only once those are in place. Then the watch marks are renewed (a restarted
   * Redis lost them, and scripts publish only for watched queues) and every listener is told to
   * read the state again. The marks go over the command connection, which may come back after
   * this one (or Redis may refuse writes for a while): they are tried again until they are set,
   * for up to a third of their life (the renewal takes over then), and the listeners are told
   * either way. Giving up at the first refusal left them untold for good.
   */
  async #resync(): Promise<void> {
    const channels = [...this.#subscriptions.keys()];
    if (channels.length === 0) return;
    await this.#subscriber.subscribe(...channels);
    const giveUpAt = Date.now() + WATCH_TTL_MS / 3;
    for (;;) {
      try {
        await Promise.all([...this.#subscriptions.values()].map(({ queue }) => this.#markWatched(queue)));
        break;
      } catch (error) {
        if (Date.now() >= giveUpAt) {
          this.logger.warn({ err: (error as Error).message }, 'could not renew the events channels\' watch marks after a reconnect; they are renewed on their interval');
          break;
        }
        await sleep(MARK_RETRY_MS);
      }
    }
    this.logger.warn({ channels }, 'events subscription was lost and is back; listeners read the state again');
    const at = Date.now();
    for (const [jobId, listeners] of this.#byJob) for (const listener of listeners) this.#tell(listener, { event: RESYNC, job_id: jobId, at });
    for (const [queue, listeners] of this.#byQueue) for (const listener of listeners) this.#tell(listener, { event: RESYNC, at, queue });
  }

  /**
   * Calls one listener. One that throws is logged and the others are still told: this runs in
   * the subscriber's reply handler, where an error would stop the process.
   */
  #tell<Event extends JobEvent | QueueResync>(listener: (event: Event) => void, event: Event): void {
    try {
      listener(event);
    } catch (error) {
      this.logger.error({ err: error, event: event.event, jobId: 'job_id' in event ? event.job_id : undefined }, 'an event listener failed on an event; the others are told');
    }
  }

  #dispatch(channel: string, text: string): void {
    let event: JobEvent;
    try {
      event = JSON.parse(text) as JobEvent;
    } catch {
      this.logger.warn({ channel }, 'ignored an event that is not JSON');
      return;
    }
    // Anyone who can PUBLISH on the channel can send anything: `null` would throw here (in
    // ioredis's reply handler, stopping the process), and a newline in the name would write
    // events of its own into every SSE stream. The scripts' events have a plain name and a job ID.
    if (typeof event !== 'object' || event === null || typeof event.job_id !== 'string' || typeof event.event !== 'string' || !EVENT_NAME.test(event.event)) {
      this.logger.warn({ channel }, 'ignored an event without a plain name and a job ID');
      return;
    }
    for (const listener of this.#byJob.get(event.job_id) ?? []) this.#tell(listener, event);
    for (const listener of this.#byQueue.get(this.#subscriptions.get(channel)?.listenedAs ?? '') ?? []) this.#tell(listener, event);
  }
}

function add<Listener>(map: Map<string, Set<Listener>>, key: string, listener: Listener): () => void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0) map.delete(key);
  };
}
