import type { RedisClient } from '@conveyor/shared';

/** When Redis cannot report a group's lag, at most this many entries are counted instead. */
const WAITING_COUNT_LIMIT = 1_000;

/** A lane whose group lag Redis cannot report, and the last entry its group was delivered. */
export interface UnknownLag {
  stream: string;
  lastDeliveredId: string;
}

/**
 * Redis 7 reports a null lag when entries were deleted past the group's last delivered entry;
 * then the entries after it are counted, up to WAITING_COUNT_LIMIT (XRANGE reads them whole),
 * in one pipelined round trip. The lanes are of one queue (one hash slot, so one node of a
 * Redis Cluster). Answers each stream's count, or null when it holds more.
 */
export async function countWaiting(redis: RedisClient, lanes: readonly UnknownLag[]): Promise<Map<string, number | null>> {
  const counted = new Map<string, number | null>();
  if (lanes.length === 0) return counted;
  const reads = redis.pipeline();
  for (const lane of lanes) reads.xrange(lane.stream, `(${lane.lastDeliveredId}`, '+', 'COUNT', WAITING_COUNT_LIMIT + 1);
  const replies = (await reads.exec()) ?? [];
  lanes.forEach((lane, i) => {
    const [error, entries] = replies[i] ?? [null, []];
    if (error) throw error;
    const count = (entries as unknown[]).length;
    counted.set(lane.stream, count > WAITING_COUNT_LIMIT ? null : count);
  });
  return counted;
}

/** The lane's lag is unknown: its group exists, Redis says null, and it names a last delivered entry. */
export function unknownLag(stream: string, group: Record<string, unknown> | undefined): UnknownLag | undefined {
  if (!group || group['lag'] !== null || typeof group['last-delivered-id'] !== 'string') return undefined;
  return { stream, lastDeliveredId: group['last-delivered-id'] };
}
