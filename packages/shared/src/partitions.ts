import { findDeclaredPipeline, PIPELINES, type Pipeline } from './pipelines.js';

/**
 * Partitions of a hot queue. On Redis Cluster a queue lives in one hash slot, so one node serves
 * all of it; a queue given N partitions (QUEUE_PARTITIONS) is N full copies of the queue's layout,
 * `<queue>.0` … `<queue>.<N-1>`, each with its own hash tag (`{documents.2}`), which the cluster
 * spreads over its nodes. The API spreads new jobs over them; workers read them all.
 *
 * The queue's own layout (`{documents}`) stays in service beside its partitions: jobs queued
 * before it was partitioned, and entries other producers XADD to its streams, are still run.
 *
 * A partition is named with a dot, not the `#` of the design brief, because the name starts each
 * of its job IDs (`documents.2:01JDQ…`) and a `#` in a URL ends the path.
 */

/** Most partitions a queue may have: each costs every worker one reader and one connection. */
export const MAX_PARTITIONS = 32;

const partitionPattern = /^(.+)\.(0|[1-9]\d?)$/;
const cache = new Map<string, Pipeline>();

/** The pipeline of a queue or of one of its partitions (`documents.2`), or undefined. */
export function findPipeline(name: string): Pipeline | undefined {
  const declared = findDeclaredPipeline(name);
  if (declared) return declared;
  const match = partitionPattern.exec(name);
  if (!match) return undefined;
  const parent = findDeclaredPipeline(match[1]!);
  const index = Number(match[2]);
  if (!parent || index >= MAX_PARTITIONS) return undefined;
  let partition = cache.get(name);
  if (!partition) cache.set(name, (partition = { ...parent, name, partition: { queue: parent.name, index } }));
  return partition;
}

/** The queue a pipeline belongs to: its own name, or for a partition its queue's. */
export function queueNameOf(pipeline: Pipeline): string {
  return pipeline.partition?.queue ?? pipeline.name;
}

/** How many partitions each queue has: QUEUE_PARTITIONS, parsed; a queue it does not name has 1. */
export type PartitionCounts = Readonly<Record<string, number>>;

/** Whether QUEUE_PARTITIONS gives `queue` a partition `index` (a queue of one partition has none). */
export function hasPartition(queue: string, index: number, counts: PartitionCounts): boolean {
  const count = counts[queue] ?? 1;
  return count > 1 && index < count;
}

/**
 * Where a queue's jobs may be: the queue itself, then each of its partitions. New jobs go to the
 * partitions only (see `partitionsOf`).
 */
export function servedQueuesOf(pipeline: Pipeline, counts: PartitionCounts): Pipeline[] {
  return [pipeline, ...partitionsOf(pipeline, counts)];
}

/** A partitioned queue's partitions, in order; none for a queue of one partition. */
export function partitionsOf(pipeline: Pipeline, counts: PartitionCounts): Pipeline[] {
  const count = counts[pipeline.name] ?? 1;
  if (count <= 1) return [];
  return Array.from({ length: count }, (_, index) => findPipeline(`${pipeline.name}.${index}`)!);
}

/** Every queue and partition of every pipeline: what the API and a worker serving all create groups for. */
export function allServedQueues(counts: PartitionCounts): Pipeline[] {
  return PIPELINES.flatMap((pipeline) => servedQueuesOf(pipeline, counts));
}

/**
 * Parses QUEUE_PARTITIONS (`documents=4,inference=8`). Returns the counts, or the problem with
 * the setting, in words.
 */
export function parsePartitionCounts(text: string): PartitionCounts | string {
  const counts: Record<string, number> = {};
  for (const part of text.split(',').map((item) => item.trim()).filter(Boolean)) {
    const match = /^([^=\s]+)\s*=\s*(\d+)$/.exec(part);
    if (!match) return `"${part}" is not <queue>=<count>; write e.g. documents=4,inference=8`;
    const [, queue, count] = match as unknown as [string, string, string];
    if (!findDeclaredPipeline(queue)) return `names queue "${queue}", which does not exist; queues: ${PIPELINES.map((p) => p.name).join(', ')}`;
    const value = Number(count);
    if (value < 1 || value > MAX_PARTITIONS) return `gives queue "${queue}" ${count} partitions; a queue has 1 to ${MAX_PARTITIONS}`;
    if (queue in counts) return `names queue "${queue}" twice`;
    counts[queue] = value;
  }
  return counts;
}
