import { LANES, QueueKeys } from './keys.js';
import { findPipeline, MAX_PARTITIONS, type PartitionCounts } from './partitions.js';
import { PIPELINES } from './pipelines.js';
import type { RedisClient } from './redis.js';
import { stageGroup } from './redis-replies.js';

/** A partition QUEUE_PARTITIONS no longer gives that still holds jobs to run. */
export interface StrandedPartition {
  /** `inference.3` */
  partition: string;
  /** Jobs waiting, held or due for a retry there; null when Redis cannot count some of them (a group's lag unknown). */
  undone: number | null;
}

/**
 * The partitions beyond QUEUE_PARTITIONS's counts (it was lowered, or a queue's partitions
 * removed) that still hold jobs: nobody reads them unless a worker is given them by name
 * (WORKER_STAGES), so their jobs wait for good, and GET /queues, which lists the partitions the
 * setting gives, does not show them. One round trip per possible partition, all at once.
 */
async function findStrandedPartitions(redis: RedisClient, prefix: string, counts: PartitionCounts): Promise<StrandedPartition[]> {
  const unserved = PIPELINES.flatMap((pipeline) => {
    const count = counts[pipeline.name] ?? 1;
    const first = count > 1 ? count : 0;
    return Array.from({ length: MAX_PARTITIONS - first }, (_, i) => findPipeline(`${pipeline.name}.${first + i}`)!);
  });
  const found = await Promise.all(
    unserved.map(async (partition): Promise<StrandedPartition[]> => {
      const keys = new QueueKeys(prefix, partition.name);
      const reads = redis.pipeline();
      for (const stage of partition.stages) for (const lane of LANES) reads.xinfo('GROUPS', keys.stream(stage, lane));
      reads.zcard(keys.delayed);
      const replies = (await reads.exec()) ?? [];
      let undone: number | null = Number(replies.at(-1)?.[1] ?? 0);
      partition.stages.forEach((stage, s) =>
        LANES.forEach((_, l) => {
          const [error, groups] = replies[s * LANES.length + l] ?? [null, []];
          // No such stream: the partition never had this stage's entries.
          if (error) return;
          const group = stageGroup(groups as unknown[], stage);
          if (!group) return;
          const lag = group['lag'];
          undone = undone === null || typeof lag !== 'number' ? null : undone + lag + Number(group['pending'] ?? 0);
        }),
      );
      return undone === 0 ? [] : [{ partition: partition.name, undone }];
    }),
  );
  return found.flat();
}

/** The partitions in words, for a log line: `inference.2 (3 jobs), inference.3 (jobs)`. */
function describeStrandedPartitions(stranded: readonly StrandedPartition[]): string {
  return stranded.map(({ partition, undone }) => `${partition} (${undone === null ? 'jobs' : `${undone} job${undone === 1 ? '' : 's'}`})`).join(', ');
}

/**
 * Warns of the stranded partitions (see findStrandedPartitions), naming them and what to do,
 * but those a worker `drains` (serves by name). Nothing when there are none; a look that fails
 * is no reason not to serve, so it says nothing either.
 */
export async function warnOfStrandedPartitions(
  redis: RedisClient,
  prefix: string,
  counts: PartitionCounts,
  logger: { warn(fields: object, message: string): void },
  drains: readonly string[] = [],
): Promise<void> {
  const found = await findStrandedPartitions(redis, prefix, counts).catch(() => []);
  const stranded = found.filter(({ partition }) => !drains.includes(partition));
  if (stranded.length === 0) return;
  const names = stranded.map(({ partition }) => partition).join(',');
  const undone = Object.fromEntries(stranded.map((each) => [each.partition, each.undone]));
  logger.warn({ partitions: undone }, `partitions QUEUE_PARTITIONS no longer gives hold jobs that nobody reads: ${describeStrandedPartitions(stranded)}. They wait until a worker is given them by name (WORKER_STAGES=${names}) and drains them, or QUEUE_PARTITIONS gives them again; GET /jobs/:id finds them meanwhile`);
}
