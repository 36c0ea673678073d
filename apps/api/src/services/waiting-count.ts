import type { RedisClient } from '@conveyor/shared';
import { RANGE_BYTES, readInSteps } from './stream-range.js';

/** When Redis cannot report a group's lag, at most this many entries are counted instead. */
const WAITING_COUNT_LIMIT = 1_000;

/** A lane whose group lag Redis cannot report, and the last entry its group was delivered. */
export interface UnknownLag {
  stream: string;
  lastDeliveredId: string;
}

/**
 * Redis 7 reports a null lag when entries were deleted past the group's last delivered entry;
 * then the entries after it are counted, up to WAITING_COUNT_LIMIT or about RANGE_BYTES of them
 * (XRANGE reads them whole, inputs and all: a thousand 1 MB entries per lane held Redis for
 * seconds). The lanes are of one queue (one hash slot, so one node of a Redis Cluster), read side
 * by side. Answers each stream's count, or null when it holds more than was counted.
 */
export async function countWaiting(redis: RedisClient, lanes: readonly UnknownLag[]): Promise<Map<string, number | null>> {
  const counted = await Promise.all(
    lanes.map(async (lane) => {
      const { entries, cutShort } = await readInSteps(redis, lane.stream, { from: `(${lane.lastDeliveredId}`, to: '+' }, WAITING_COUNT_LIMIT + 1, RANGE_BYTES / lanes.length);
      return [lane.stream, cutShort || entries.length > WAITING_COUNT_LIMIT ? null : entries.length] as const;
    }),
  );
  return new Map(counted);
}

/** The lane's lag is unknown: its group exists, Redis says null, and it names a last delivered entry. */
export function unknownLag(stream: string, group: Record<string, unknown> | undefined): UnknownLag | undefined {
  if (!group || group['lag'] !== null || typeof group['last-delivered-id'] !== 'string') return undefined;
  return { stream, lastDeliveredId: group['last-delivered-id'] };
}
