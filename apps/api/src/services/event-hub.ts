import { createRedis, PIPELINES, QueueKeys } from '@conveyor/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';

/** A job event as the transition scripts publish it on `<prefix>:{<queue>}:events`. */
export interface JobEvent {
  event: string;
  job_id: string;
  at: number;
  [detail: string]: unknown;
}

export type EventListener = (event: JobEvent) => void;

/** Events after which a job changes no more. */
export const TERMINAL_EVENTS: ReadonlySet<string> = new Set(['completed', 'dead', 'cancelled']);

/**
 * One pub/sub connection per API process, subscribed to every queue's events channel, fanned
 * out in memory to any number of listeners (SSE clients) by job and by queue. Many clients
 * watching many jobs cost one Redis connection, not one each.
 */
export class EventHub {
  readonly #subscriber: Redis;
  readonly #byJob = new Map<string, Set<EventListener>>();
  readonly #byQueue = new Map<string, Set<EventListener>>();
  readonly #queueOfChannel = new Map<string, string>();

  constructor(redisUrl: string, prefix: string, private readonly logger: FastifyBaseLogger) {
    this.#subscriber = createRedis(redisUrl, { role: 'subscriber', name: 'conveyor:api:events' });
    for (const pipeline of PIPELINES) this.#queueOfChannel.set(new QueueKeys(prefix, pipeline.name).events, pipeline.name);
    this.#subscriber.on('message', (channel: string, text: string) => this.#dispatch(channel, text));
  }

  async start(): Promise<void> {
    await this.#subscriber.subscribe(...this.#queueOfChannel.keys());
  }

  close(): void {
    this.#subscriber.disconnect();
  }

  /** Calls `listener` with each event of the job until the returned function is called. */
  onJob(jobId: string, listener: EventListener): () => void {
    return add(this.#byJob, jobId, listener);
  }

  /** Calls `listener` with each event of the queue until the returned function is called. */
  onQueue(queue: string, listener: EventListener): () => void {
    return add(this.#byQueue, queue, listener);
  }

  /** Listeners now registered, for tests and metrics. */
  get listeners(): number {
    let count = 0;
    for (const set of [...this.#byJob.values(), ...this.#byQueue.values()]) count += set.size;
    return count;
  }

  #dispatch(channel: string, text: string): void {
    let event: JobEvent;
    try {
      event = JSON.parse(text) as JobEvent;
    } catch {
      this.logger.warn({ channel }, 'ignored an event that is not JSON');
      return;
    }
    for (const listener of this.#byJob.get(event.job_id) ?? []) listener(event);
    for (const listener of this.#byQueue.get(this.#queueOfChannel.get(channel) ?? '') ?? []) listener(event);
  }
}

function add(map: Map<string, Set<EventListener>>, key: string, listener: EventListener): () => void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0) map.delete(key);
  };
}
