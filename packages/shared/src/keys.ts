/**
 * The one place that names Redis keys. Every key of a queue carries the queue's
 * hash tag `{<queue>}`, so multi-key scripts stay legal on Redis Cluster.
 */

export const LANES = ['high', 'normal', 'low'] as const;
export type Lane = (typeof LANES)[number];

export class QueueKeys {
  /** `<prefix>:{<queue>}:`: every key of the queue starts with it; scripts build job keys from it. */
  readonly base: string;

  constructor(
    readonly prefix: string,
    readonly queue: string,
  ) {
    this.base = `${prefix}:{${queue}}:`;
  }

  /** Stream of one stage and lane; its consumer group is named after the stage. */
  stream(stage: string, lane: Lane): string {
    return `${this.base}${stage}:${lane}`;
  }

  /** The streams of one stage's high, normal and low lanes, in that order (as the scripts take them). */
  laneStreams(stage: string): [string, string, string] {
    return [this.stream(stage, 'high'), this.stream(stage, 'normal'), this.stream(stage, 'low')];
  }

  /** Hash: the job record. */
  job(jobId: string): string {
    return `${this.base}job:${jobId}`;
  }

  /** Sorted set: job IDs waiting for a retry backoff or a run_at time, scored by due time (ms). */
  get delayed(): string {
    return `${this.base}delayed`;
  }

  /** Stream: dead-lettered jobs. */
  get dead(): string {
    return `${this.base}dead`;
  }

  /** Pub/sub channel: job events. */
  get events(): string {
    return `${this.base}events`;
  }

  /**
   * String, with a short TTL: set while an API process has listeners on the events channel.
   * Scripts publish events only while the channel is watched (publishEvent.lua).
   */
  get eventsWatched(): string {
    return `${this.base}events:watched`;
  }

  /** String: idempotency key → job ID, with a TTL. */
  idempotency(key: string): string {
    return `${this.base}idem:${key}`;
  }

  /**
   * Hash: job ID → `<lane> <entry ID>` for jobs the API queued that have no record yet (queued,
   * or in their first attempt). A job costs one stream entry and one field here until its record
   * is written, when its first attempt ends (see recordless.lua). Also `<lane> <entry ID> <stage>`
   * for a job with a record whose entry waits to be read, until a worker takes it (see
   * waitingEntry.lua): workers walk the hash for jobs whose entry another client deleted.
   */
  get queued(): string {
    return `${this.base}queued`;
  }

  /**
   * Hash: `<stage>:<lane>:<entry ID>` → job ID for every entry a worker holds; for a job with no
   * record yet, followed by a copy of its entry (see recordless.lua).
   */
  get active(): string {
    return `${this.base}active`;
  }

  /**
   * Hash: `<stage>:<lane>` → jobs cancelled while their entry waited there undelivered. Those
   * entries count in the group's lag until a worker reads past them (see cancelledWaiting.lua).
   */
  get cancelled(): string {
    return `${this.base}cancelled`;
  }

  /** Hash: the queue's event counts in one minute (`<event>:<stage>` → count), kept two hours (countEvent.lua). */
  stats(epochMinute: number): string {
    return `${this.base}stats:${epochMinute}`;
  }

  /**
   * Hash: consumer name → until when (ms, Redis's clock) that worker counts as reading this queue.
   * Each worker renews its field every maintenance tick and ends it (now) when it stops taking
   * jobs, so a dead worker drops out within seconds, while its consumer stays in the groups for
   * CONSUMER_RETENTION.
   */
  get workers(): string {
    return `${this.base}workers`;
  }

  /**
   * Hash: consumer name → `<that worker's LEASE_MS> <when it last named it>`, named by its
   * heartbeats and lease renewals, and dropped once it has not been for CONSUMER_RETENTION and
   * the worker holds no entry: a takeover waits out the lease of the entry's holder (see
   * leaseNames.lua and lapsedEntries.lua).
   */
  get leases(): string {
    return `${this.base}leases`;
  }

  /** Hash: paused stages (field `*` pauses every stage) → when, in ms. Workers take nothing from them. */
  get paused(): string {
    return `${this.base}paused`;
  }
}

/** Pub/sub channel every worker subscribes to: fleet-wide JSON messages (cancel, broadcast, pause changes). */
export function controlChannel(prefix: string): string {
  return `${prefix}:control`;
}

/**
 * Pub/sub channel for model cache invalidation in the plain form any Redis client can send:
 * `PUBLISH conveyor:models:invalidate embed:v2` makes every worker drop its cache of `embed`.
 */
export function modelInvalidationChannel(prefix: string): string {
  return `${prefix}:models:invalidate`;
}

/**
 * String, with a short TTL: the token of the one live worker process that uses this consumer
 * name (see claimConsumer.lua). Not of any queue: a name is one consumer in every group.
 */
export function consumerClaimKey(prefix: string, consumer: string): string {
  return `${prefix}:consumer:${consumer}`;
}

/** The consumer group of a stage is named after the stage, in every lane's stream. */
export function groupName(stage: string): string {
  return stage;
}
