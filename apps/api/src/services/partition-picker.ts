import { partitionsOf, type PartitionCounts, type Pipeline } from '@conveyor/shared';
import { createHash } from 'node:crypto';

/**
 * Which partition of a queue a new job goes to (QUEUE_PARTITIONS; see partitions.ts). A job with
 * an idempotency key goes to the partition its key hashes to, so a key sent again, to any API
 * process, meets its first job there; other jobs take the partitions in turn.
 */
export class PartitionPicker {
  readonly #turn = new Map<string, number>();
  readonly #partitions = new Map<string, Pipeline[]>();

  constructor(private readonly counts: PartitionCounts) {}

  /** The queue itself when it has one partition, else the partition this job goes to. */
  pick(pipeline: Pipeline, idempotencyKey?: string): Pipeline {
    let partitions = this.#partitions.get(pipeline.name);
    if (!partitions) this.#partitions.set(pipeline.name, (partitions = partitionsOf(pipeline, this.counts)));
    if (partitions.length === 0) return pipeline;
    if (idempotencyKey !== undefined) return partitions[createHash('sha256').update(idempotencyKey).digest().readUInt32BE(0) % partitions.length]!;
    const turn = this.#turn.get(pipeline.name) ?? 0;
    this.#turn.set(pipeline.name, (turn + 1) % partitions.length);
    return partitions[turn]!;
  }

  /**
   * Where a job without a key may go once `target` (the pick) is full: `target`, then the other
   * partitions of its queue in turn (just `target` for a queue of one partition).
   */
  fallbacks(target: Pipeline): Pipeline[] {
    if (target.partition === undefined) return [target];
    const partitions = this.#partitions.get(target.partition.queue)!;
    const at = partitions.indexOf(target);
    return [...partitions.slice(at), ...partitions.slice(0, at)];
  }

  /**
   * The most undone jobs one partition may hold: MAX_BACKLOG shared over the
   * partitions (0, no limit, stays 0).
   */
  backlogLimit(pipeline: Pipeline, maxBacklog: number): number {
    const partitions = this.counts[pipeline.partition?.queue ?? pipeline.name] ?? 1;
    return maxBacklog === 0 ? 0 : Math.ceil(maxBacklog / partitions);
  }
}
