import { LANES, groupName, liveConsumers, pairsOf, stageGroup, type Lane, type Pipeline, type QueueKeys, type RedisClient } from '@conveyor/shared';
import type { ChainableCommander } from 'ioredis';
import { EVENT_NAMES, type EventCounts, type EventName, type LaneStats, type QueueStats, type StageStats } from '../schemas/queue-stats.js';
import { iso } from './job-view.js';
import { compareIds } from './stream-range.js';
import { countWaiting, unknownLag } from './waiting-count.js';

const MINUTE_MS = 60_000;
const HOUR_MINUTES = 60;

type Reply = [Error | null, unknown];
/** How many times `event` happened in one minute's counters (of a stage, or of the queue). */
type EventSelector = (minute: Record<string, string>, event: EventName) => number;
type PendingSummary = [entryId: string, consumer: string, idleMs: number, deliveries: number];

interface LaneRead {
  stream: string;
  info: Record<string, unknown> | undefined;
  group: Record<string, unknown> | undefined;
  consumers: Record<string, unknown>[];
  oldest: PendingSummary | undefined;
}

/** Redis's clock (ms): the scripts stamp the per-minute counters with it, so windows are cut by it too. */
export async function redisNow(redis: RedisClient): Promise<number> {
  return msOfTime(await redis.time());
}

/** A TIME reply in ms. */
export function msOfTime([seconds, micros]: readonly (string | number)[]): number {
  return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
}

/**
 * A queue's statistics, read in one pipelined round trip (a second one only when Redis cannot
 * report a lag). `now` is Redis's clock, from `redisNow`.
 */
export async function readQueueStats(redis: RedisClient, keys: QueueKeys, pipeline: Pipeline, now: number): Promise<QueueStats> {
  const reads = redis.pipeline();
  for (const stage of pipeline.stages) for (const lane of LANES) queueLaneReads(reads, keys.stream(stage, lane), groupName(stage));
  reads.zcard(keys.delayed).xlen(keys.dead).hkeys(keys.paused).hgetall(keys.workers).hgetall(keys.cancelled);
  const minute = Math.floor(now / MINUTE_MS);
  for (let m = minute - HOUR_MINUTES + 1; m <= minute; m++) reads.hgetall(keys.stats(m));
  const replies = ((await reads.exec()) ?? []) as Reply[];

  let at = 0;
  const lanes = new Map<string, LaneRead>();
  for (const stage of pipeline.stages) {
    for (const lane of LANES) {
      lanes.set(`${stage}:${lane}`, parseLaneReads(keys.stream(stage, lane), stage, replies.slice(at, at + LANE_READS)));
      at += LANE_READS;
    }
  }
  const delayed = Number(valueOf(replies[at++]!, 0));
  const dead = Number(valueOf(replies[at++]!, 0));
  const paused = (valueOf(replies[at++]!, []) as string[]).sort();
  const live = liveConsumers(valueOf(replies[at++]!, {}) as Record<string, string>, now);
  const cancelled = valueOf(replies[at++]!, {}) as Record<string, string>;
  const hour = replies.slice(at).map((reply) => valueOf(reply, {}) as Record<string, string>);
  const counted = await countWaiting(redis, [...lanes.values()].flatMap((lane) => unknownLag(lane.stream, lane.group) ?? []));

  const windows = (select: EventSelector) => ({
    last_minute: eventCounts(hour.slice(-1), minute, select),
    last_hour: eventCounts(hour, minute - HOUR_MINUTES + 1, select),
  });
  const lastStage = pipeline.stages[pipeline.stages.length - 1]!;
  const stages: StageStats[] = pipeline.stages.map((stage) => {
    const byLane = Object.fromEntries(
      LANES.map((lane) => [lane, laneStats(lanes.get(`${stage}:${lane}`)!, counted, Number(cancelled[`${stage}:${lane}`] ?? 0), live, now)]),
    ) as Record<Lane, LaneStats>;
    return {
      name: stage,
      paused: paused.includes('*') || paused.includes(stage),
      ...stageTotals(Object.values(byLane)),
      counts: windows((hash, event) => Number(hash[`${event}:${stage}`] ?? 0)),
      lanes: byLane,
    };
  });
  return {
    queue: pipeline.name,
    input: pipeline.input,
    paused,
    delayed,
    dead,
    // A job completes once per stage: the queue counts only those that finished its last stage.
    counts: windows((hash, event) => (event === 'completed' ? Number(hash[`completed:${lastStage}`] ?? 0) : sumOfEvent(hash, event))),
    stages,
    measured_at: iso(now)!,
  };
}


/** A lane's undelivered entries less those of jobs cancelled while they waited (QueueKeys.cancelled); unknown stays unknown. */
export function withoutCancelled(undelivered: number | null, cancelled: number): number | null {
  return undelivered === null ? null : Math.max(0, undelivered - cancelled);
}

const LANE_READS = 4;

function queueLaneReads(reads: ChainableCommander, stream: string, group: string): void {
  reads.xinfo('STREAM', stream).xinfo('GROUPS', stream).xinfo('CONSUMERS', stream, group).xpending(stream, group, '-', '+', 1);
}

function parseLaneReads(stream: string, stage: string, [info, groups, consumers, oldest]: Reply[]): LaneRead {
  const group = stageGroup(valueOf(groups!, []) as unknown[], stage);
  const streamInfo = valueOf(info!, null) as unknown[] | null;
  return {
    stream,
    info: streamInfo ? pairsOf(streamInfo) : undefined,
    group,
    consumers: (valueOf(consumers!, []) as unknown[][]).map(pairsOf),
    oldest: (valueOf(oldest!, []) as PendingSummary[])[0],
  };
}

/**
 * A lane's figures; `live` holds the consumers whose worker says it reads the queue
 * (QueueKeys.workers), `cancelled` how many of its undelivered entries are of cancelled jobs.
 */
function laneStats(read: LaneRead, counted: Map<string, number | null>, cancelled: number, live: Set<string>, now: number): LaneStats {
  const { info, group, oldest } = read;
  const consumers = read.consumers.map((consumer) => ({ name: String(consumer['name']), pending: Number(consumer['pending']), idle_ms: Number(consumer['idle']), live: live.has(String(consumer['name'])) }));
  const firstEntry = info?.['first-entry'] as [string, unknown] | null | undefined;
  const lag = group?.['lag'];
  return {
    stream: read.stream,
    total_tasks: Number(info?.['length'] ?? 0),
    waiting_tasks: group === undefined ? 0 : withoutCancelled(typeof lag === 'number' ? lag : (counted.get(read.stream) ?? null), cancelled),
    pending_tasks: Number(group?.['pending'] ?? 0),
    consumers: consumers.length,
    live_consumers: consumers.filter((consumer) => consumer.live).length,
    consumer_details: consumers,
    oldest_pending: oldest
      ? { entry_id: oldest[0], consumer: oldest[1], age_ms: Math.max(0, now - Number(oldest[0].split('-')[0])), idle_ms: Number(oldest[2]), deliveries: Number(oldest[3]) }
      : null,
    entries_added: Number(info?.['entries-added'] ?? 0),
    first_entry_id: firstEntry?.[0] ?? null,
    last_delivered_id: typeof group?.['last-delivered-id'] === 'string' ? group['last-delivered-id'] : null,
  };
}

/**
 * A partitioned queue's statistics: the sums over the queue's own streams and its partitions'
 * (`parts`, from readQueueStats, in that order), each of which is also listed. A lane's `stream`
 * names its streams with `*` for the partition.
 */
export function mergeQueueStats(pipeline: Pipeline, parts: QueueStats[]): QueueStats {
  const [first] = parts as [QueueStats, ...QueueStats[]];
  const stages: StageStats[] = first.stages.map((stage, s) => {
    const each = parts.map((part) => part.stages[s]!);
    const lanes = Object.fromEntries(
      LANES.map((lane) => {
        const laneParts = each.map((part) => part.lanes[lane]);
        const firstIds = laneParts.map((part) => part.first_entry_id).filter((id) => id !== null);
        const delivered = laneParts.map((part) => part.last_delivered_id).filter((id) => id !== null);
        const merged: LaneStats = {
          stream: first.stages[s]!.lanes[lane].stream.replace(`{${pipeline.name}}`, `{${pipeline.name}.*}`),
          ...stageTotals(laneParts),
          entries_added: sum(laneParts.map((part) => part.entries_added)),
          first_entry_id: firstIds.sort(compareIds)[0] ?? null,
          last_delivered_id: delivered.sort(compareIds).at(-1) ?? null,
        };
        return [lane, merged];
      }),
    ) as Record<Lane, LaneStats>;
    return { name: stage.name, paused: each.some((part) => part.paused), ...stageTotals(each), counts: sumWindows(each.map((part) => part.counts)), lanes };
  });
  return {
    queue: pipeline.name,
    input: first.input,
    paused: [...new Set(parts.flatMap((part) => part.paused))].sort(),
    delayed: sum(parts.map((part) => part.delayed)),
    dead: sum(parts.map((part) => part.dead)),
    counts: sumWindows(parts.map((part) => part.counts)),
    stages,
    measured_at: first.measured_at,
    partitions: parts,
  };
}

function sumWindows(windows: QueueStats['counts'][]): QueueStats['counts'] {
  const add = (counts: EventCounts[]) => ({ since: counts[0]!.since, ...Object.fromEntries(EVENT_NAMES.map((event) => [event, sum(counts.map((count) => count[event]))])) }) as EventCounts;
  return { last_minute: add(windows.map((window) => window.last_minute)), last_hour: add(windows.map((window) => window.last_hour)) };
}

type TaskFigures = Pick<LaneStats, 'total_tasks' | 'waiting_tasks' | 'pending_tasks' | 'consumer_details' | 'oldest_pending'>;

/** A stage's figures: its lanes' sums; a consumer reading several lanes counts once. Also sums a stage over partitions. */
function stageTotals(lanes: TaskFigures[]) {
  const consumers = new Map<string, { name: string; pending: number; idle_ms: number; live: boolean }>();
  for (const consumer of lanes.flatMap((lane) => lane.consumer_details)) {
    const seen = consumers.get(consumer.name);
    if (seen) {
      seen.pending += consumer.pending;
      seen.idle_ms = Math.min(seen.idle_ms, consumer.idle_ms);
      seen.live ||= consumer.live;
    } else consumers.set(consumer.name, { ...consumer });
  }
  const oldest = lanes
    .map((lane) => lane.oldest_pending)
    .filter((entry) => entry !== null)
    .sort((a, b) => compareIds(a.entry_id, b.entry_id))[0];
  return {
    total_tasks: sum(lanes.map((lane) => lane.total_tasks)),
    waiting_tasks: lanes.some((lane) => lane.waiting_tasks === null) ? null : sum(lanes.map((lane) => lane.waiting_tasks ?? 0)),
    pending_tasks: sum(lanes.map((lane) => lane.pending_tasks)),
    consumers: consumers.size,
    live_consumers: [...consumers.values()].filter((consumer) => consumer.live).length,
    consumer_details: [...consumers.values()].sort((a, b) => a.name.localeCompare(b.name)),
    oldest_pending: oldest ?? null,
  };
}

function eventCounts(hashes: Record<string, string>[], firstMinute: number, select: EventSelector): EventCounts {
  const counts = Object.fromEntries(EVENT_NAMES.map((event) => [event, sum(hashes.map((hash) => select(hash, event)))])) as Omit<EventCounts, 'since'>;
  return { since: iso(firstMinute * MINUTE_MS)!, ...counts };
}

function sumOfEvent(hash: Record<string, string>, event: string): number {
  return sum(Object.entries(hash).map(([field, value]) => (field.startsWith(`${event}:`) ? Number(value) : 0)));
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/**
 * A pipelined reply's value. A stream or group that does not exist (deleted by hand; the API
 * recreates groups only when it connects) reads as `absent`; any other error is thrown, so a
 * Redis outage becomes the usual 503.
 */
function valueOf(reply: Reply, absent: unknown): unknown {
  const [error, value] = reply;
  if (!error) return value;
  if (/no such key|NOGROUP/i.test(error.message)) return absent;
  throw error;
}
