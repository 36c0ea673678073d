import { fieldsOf, LANES, stageGroup, type Lane, type QueueKeys, type RedisClient } from '@conveyor/shared';
import { ProblemError } from '../problems/problem-error.js';
import { CURSOR, MAX_ID_PART, POSITION_ID } from '../schemas/history.js';
import { zonedTimeMs } from '../schemas/zoned-time.js';

/**
 * Reads a range of one stage's history: its three lanes' streams merged into one order.
 * Entry IDs are time-ordered within a stream, but two lanes can hold the same ID, so entries
 * sort by ID, then by lane (high, normal, low), and a cursor names both.
 */

export interface StageEntry {
  id: string;
  lane: Lane;
  fields: Record<string, string>;
}

export interface StageRange {
  entries: StageEntry[];
  /** More entries follow the last one within the range. */
  more: boolean;
  /** Each lane's group's last delivered entry ID ('0-0' when the group does not exist). */
  lastDelivered: Record<Lane, string>;
}

export interface RangeRequest {
  /** Where from, to and cursor came from, for the paths of a 400 problem. */
  source: 'querystring' | 'body';
  from: string | undefined;
  to: string | undefined;
  cursor: string | undefined;
  limit: number;
}

/** The `limit` first entries of a stage's lanes within [from, to], after `cursor`. */
export async function readStageRange(redis: RedisClient, keys: QueueKeys, stage: string, request: RangeRequest): Promise<StageRange> {
  const from = request.from === undefined ? '0-0' : streamId(request.from, 'start', `${request.source}.from`);
  const to = request.to === undefined ? `${MAX_ID_PART}-${MAX_ID_PART}` : streamId(request.to, 'end', `${request.source}.to`);
  if (compareIds(from, to) > 0) throw invalid(`${request.source}.from`, `"from" (${request.from}) is after "to" (${request.to}).`);
  const after = request.cursor === undefined ? undefined : parseCursor(request.cursor);

  const groupReads = redis.pipeline();
  for (const lane of LANES) groupReads.xinfo('GROUPS', keys.stream(stage, lane));
  const [lanes, groupReplies] = await Promise.all([
    // Each lane up to limit + 1: more than `limit` merged entries means more remain.
    Promise.all(LANES.map((lane, index) => readInSteps(redis, keys.stream(stage, lane), { from: startOf(from, after, index), to }, request.limit + 1, RANGE_BYTES / LANES.length))),
    groupReads.exec(),
  ]);

  const lastDelivered = {} as Record<Lane, string>;
  for (const [index, lane] of LANES.entries()) {
    const [groupsError, groups] = groupReplies![index]!;
    if (groupsError && !/no such key/i.test(groupsError.message)) throw groupsError;
    const group = stageGroup((groups ?? []) as unknown[], stage);
    lastDelivered[lane] = typeof group?.['last-delivered-id'] === 'string' ? group['last-delivered-id'] : '0-0';
  }
  const merged = lanes.flatMap(({ entries }, index) => entries.map((entry) => ({ entry, lane: LANES[index]! })));
  merged.sort((a, b) => compareIds(a.entry[0], b.entry[0]) || LANES.indexOf(a.lane) - LANES.indexOf(b.lane));
  const { page, more } = pageOf(merged, request.limit, lanes);
  return { entries: page.map(({ entry: [id, flat], lane }) => ({ id, lane, fields: fieldsOf(flat) })), more, lastDelivered };
}

/**
 * The page of `merged` (the reads of several streams, merged in page order): at most `limit`
 * items, and none past the last entry read of a stream cut short, whose next entries may belong
 * before them. `more`: entries follow the page.
 */
export function pageOf<T extends { entry: StreamEntry }>(merged: readonly T[], limit: number, reads: readonly { entries: readonly StreamEntry[]; cutShort: boolean }[]): { page: T[]; more: boolean } {
  const cutEnds = new Set(reads.flatMap(({ entries, cutShort }) => (cutShort ? [entries.at(-1)!] : [])));
  const cut = merged.findIndex(({ entry }) => cutEnds.has(entry));
  const size = Math.min(limit, cut === -1 ? merged.length : cut + 1);
  return { page: merged.slice(0, size), more: merged.length > size || cutEnds.size > 0 };
}

/**
 * Most bytes of stream entries one range reads from Redis. Entries hold their job's input whole:
 * 500 entries of 1 MB prompts in one XRANGE (or XREVRANGE) held Redis for 2.3 s, so every worker
 * and request waited, the API's call timed out (a 503), and the API grew to 1 GB. A range stops
 * early at about this much, with a cursor to the rest.
 */
export const RANGE_BYTES = 4 * 1024 * 1024;

/** Entries a range's first read of a stream asks for, before it knows how large they are. */
const FIRST_READ = 5;

/**
 * Most entries one read asks for: the sizes read so far say little of the next entries' (small
 * jobs, then large ones), so one read of 25 entries of 1 MB costs Redis about 0.1 s at worst.
 */
const MOST_PER_READ = 25;

export type StreamEntry = [id: string, fields: string[]];

/**
 * Up to `want` entries of `stream` within [from, to] (oldest first, or newest first from `to`
 * with `newestFirst`), read in steps sized to keep within about `budget` bytes. `cutShort`: the
 * budget stopped it with entries left to read.
 */
export async function readInSteps(
  redis: RedisClient,
  stream: string,
  range: { from: string; to: string; newestFirst?: boolean },
  want: number,
  budget: number,
): Promise<{ entries: StreamEntry[]; cutShort: boolean }> {
  const entries: StreamEntry[] = [];
  let { from, to } = range;
  let bytes = 0;
  let count = Math.min(FIRST_READ, want);
  for (;;) {
    const read = (await (range.newestFirst ? redis.xrevrange(stream, to, from, 'COUNT', count) : redis.xrange(stream, from, to, 'COUNT', count))) as StreamEntry[];
    for (const [, fields] of read) for (const field of fields) bytes += field.length;
    entries.push(...read);
    if (read.length < count || entries.length >= want) return { entries, cutShort: false };
    if (bytes >= budget) return { entries, cutShort: true };
    if (range.newestFirst) to = `(${read.at(-1)![0]}`;
    else from = `(${read.at(-1)![0]}`;
    // As many more as the budget leaves room for, at the size read so far.
    count = Math.max(1, Math.min(want - entries.length, MOST_PER_READ, Math.floor((budget - bytes) / (bytes / entries.length))));
  }
}

/** The cursor that continues after `entry`. */
export function cursorAfter(entry: StageEntry): string {
  return `${entry.id}:${entry.lane}`;
}

/** -1, 0 or 1 as entry ID `a` sorts before, with or after `b`. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/**
 * A complete entry ID for a from/to bound: an ID as given; a bare millisecond or an ISO time as
 * the first (start) or last (end) possible ID of that millisecond. The digits of an ID stay
 * BigInts: a millisecond past 2^53 (8700000000000000-0) is not exact as a Number.
 */
function streamId(value: string, edge: 'start' | 'end', path: string): string {
  const whole = edge === 'start' ? 0n : MAX_ID_PART;
  const id = POSITION_ID.exec(value);
  if (id) return `${BigInt(id[1]!)}-${id[2] === undefined ? whole : BigInt(id[2])}`;
  const ms = zonedTimeMs(value);
  if (Number.isNaN(ms)) throw invalid(path, `"${value}" is not a valid entry ID or time.`);
  return `${Math.max(0, ms)}-${whole}`;
}

/** A cursor the request schema has checked (see CURSOR). */
function parseCursor(cursor: string): { id: string; lane: number } {
  const [, id, lane] = CURSOR.exec(cursor)!;
  return { id: id!, lane: LANES.indexOf(lane as Lane) };
}

/** Where a lane's read starts: after the cursor (lanes up to the cursor's own are past that ID), never before `from`. */
function startOf(from: string, after: { id: string; lane: number } | undefined, lane: number): string {
  if (!after || compareIds(after.id, from) < 0) return from;
  return lane <= after.lane ? `(${after.id}` : after.id;
}

function invalid(path: string, message: string): ProblemError {
  return new ProblemError('invalid-request', `${path}: ${message}`, { errors: [{ path, message }] });
}
