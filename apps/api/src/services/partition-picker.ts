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
   * The most undone jobs one partition may hold: MAX_BACKLOG shared over the
   * partitions (0, no limit, stays 0).
   */
  backlogLimit(pipeline: Pipeline, maxBacklog: number): number {
    const partitions = this.counts[pipeline.partition?.queue ?? pipeline.name] ?? 1;
    return maxBacklog === 0 ? 0 : Math.ceil(maxBacklog / partitions);
  }
}
