import { LANES, MAX_PARTITIONS } from '@conveyor/shared';
import { z } from 'zod';
import { MAX_SHOWN_DEPTH } from '../services/json-depth.js';
import { decimalInteger, decimalIntegerOr } from './decimal-integer.js';
import { JOB_STATUSES } from './job-view.js';
import { missingPart, ZONED_TIME } from './zoned-time.js';
import { onlyParameters } from './query-parameters.js';

/** The largest part of a stream entry ID (its milliseconds or its sequence): 2^64 - 1. */
export const MAX_ID_PART = 18_446_744_073_709_551_615n;
const MAX_ID_DIGITS = String(MAX_ID_PART);

/**
 * Whether decimal digits are a part of an entry ID Redis takes: at most 2^64 - 1. Compared as
 * text, by length and then digit by digit: a Number is exact only up to 2^53, and other producers
 * choose IDs past it (8700000000000000-0). Leading zeros are no part of the value.
 */
function fitsIdPart(digits: string): boolean {
  const significant = digits.replace(/^0+(?=\d)/, '');
  return significant.length < MAX_ID_DIGITS.length || (significant.length === MAX_ID_DIGITS.length && significant <= MAX_ID_DIGITS);
}

/** A stream entry ID Redis takes: `<ms>-<sequence>`, each part at most 2^64 - 1. */
export function isEntryId(value: string): boolean {
  const id = /^(\d{1,20})-(\d{1,20})$/.exec(value);
  return id !== null && fitsIdPart(id[1]!) && fitsIdPart(id[2]!);
}

/** A from/to given as an entry ID (`1700000000000-0`), or as a bare millisecond (`1700000000000`) for all of its entries. */
export const POSITION_ID = /^(\d+)(?:-(\d+))?$/;

/**
 * What is wrong with a from/to that is not an entry ID, as a time (zoned-time.ts: as run_at takes
 * it); undefined when nothing is. A date alone, or a time without a zone, is told so.
 */
function timeFault(value: string): string | undefined {
  if (ZONED_TIME.test(value)) return missingPart(value);
  const date = /^\d{4}-\d{2}-\d{2}/.exec(value)?.[0];
  const dateFault = date === undefined ? undefined : missingPart(`${date}T00:00Z`);
  if (dateFault) return dateFault;
  if (date !== undefined && value.length === date.length) return `is a date without a time; give a time with its zone, e.g. ${date}T00:00Z`;
  if (date !== undefined && ZONED_TIME.test(`${value}Z`)) return `has no time zone; end it with Z (UTC) or an offset, e.g. ${value}Z or ${value}+01:00`;
  return 'must be an entry ID (1700000000000-0) or an ISO 8601 time with its zone (2026-01-31T12:00Z)';
}

const position = (edge: string) =>
  z
    .string()
    // The longest entry ID: 18446744073709551615-18446744073709551615.
    .max(41)
    .superRefine((value, ctx) => {
      const id = POSITION_ID.exec(value);
      if (id === null) {
        const fault = timeFault(value);
        if (fault) ctx.addIssue({ code: 'custom', message: fault });
      } else if (!fitsIdPart(id[1]!) || (id[2] !== undefined && !fitsIdPart(id[2]))) {
        ctx.addIssue({ code: 'custom', message: `is past the largest entry ID: each of its two parts is at most ${MAX_ID_DIGITS} (2^64 - 1)` });
      }
    })
    .describe(`${edge}, inclusive: an entry ID (1700000000000-0; a bare 1700000000000 means that whole millisecond) or an ISO 8601 time`);

/** `<entry id>:<lane>`: the last entry of the previous page; entries sort by ID, then lane (high, normal, low). */
export const CURSOR = /^(\d+-\d+):(high|normal|low)$/;

const cursor = z
  .string()
  .refine((value) => isEntryId(CURSOR.exec(value)?.[1] ?? ''), 'must be the next_cursor of the previous answer')
  .optional()
  .describe('next_cursor of the previous answer');

const stage = z.string().min(1).max(100).optional();

/** A partition in a query: decimal digits only (z.coerce.number read "" and " " as 0, "0x1" as 1). */
const partition = decimalInteger(0, MAX_PARTITIONS - 1)
  .optional()
  .describe("on a partitioned queue (QUEUE_PARTITIONS), the partition whose streams to read; the queue's own streams (jobs queued before it was partitioned, entries other producers added) when omitted");

/** Strict, as the dead-letter list: a typo would give a default page with no word of it. */
export const historyQuerySchema = onlyParameters({
  stage: stage.describe("the stage whose stream to read; the queue's first stage when omitted"),
  from: position('first entry').optional(),
  to: position('last entry').optional(),
  limit: decimalIntegerOr(50, 1, 500).describe('most entries per page: a page stops early, with a next_cursor, once its entries pass about 4 MiB (large inputs)'),
  cursor,
  partition,
});
export type HistoryQuery = z.output<typeof historyQuerySchema>;

export const HISTORY_STATUSES = [...JOB_STATUSES, 'expired', 'unknown'] as const;

export const historyEntrySchema = z.object({
  entry_id: z.string(),
  lane: z.enum(LANES),
  added_at: z.string().nullable().describe('when the entry was added (from its ID; ISO 8601, UTC); null when the ID is past what a date can show (another producer chose it, e.g. 8700000000000000-0)'),
  job_id: z
    .string()
    .describe(
      "the entry's `job` field; for an entry another producer added with plain fields, the job's name after its stream: `<queue>:<entry id>` (first stage, normal lane), `<queue>:<lane>:<entry id>` (first stage, other lanes), `<queue>:<stage>:<lane>:<entry id>` (later stages)",
    ),
  status: z
    .enum(HISTORY_STATUSES)
    .describe(
      "the job's status now (not when the entry was added). `expired`: the entry was delivered but the job has no record any more (it finished longer than JOB_RETENTION ago). `unknown`: not delivered, yet neither a record nor the queued index knows the job",
    ),
  job_stage: z.string().nullable().describe('the stage the job is at now; null when it has no record'),
  fields: z.record(z.string(), z.unknown()).describe(`the entry as stored; \`payload\` and \`opts\` parsed when they are JSON (JSON nested deeper than ${MAX_SHOWN_DEPTH} levels is shown as its text)`),
});

export const historyPageSchema = z.object({
  stage: z.string(),
  entries: z.array(historyEntrySchema).describe('in entry ID order, the three lanes merged'),
  next_cursor: z.string().nullable().describe('pass as `cursor` (with the same from/to) for the next page; null on the last page'),
});

export const replayBodySchema = z
  .object({
    from: position('first entry'),
    to: position('last entry'),
    stage: stage.describe("the stage whose history selects the jobs (default: the first stage); the new jobs always start at the first stage"),
    limit: z.number().int().min(1).max(1_000).default(100).describe('most entries read in this call; next_cursor continues'),
    priority: z.enum(LANES).optional().describe("lane of the new jobs; each original's own lane when omitted"),
    cursor,
    partition: z
      .number()
      .int()
      .min(0)
      .max(MAX_PARTITIONS - 1)
      .optional()
      .describe('on a partitioned queue, the partition whose history to replay (its new jobs are queued there too); the queue\'s own streams when omitted'),
  })
  .strict();
export type ReplayBody = z.output<typeof replayBodySchema>;

/** The replay takes its options in the body; `?limit=5` is refused rather than ignored, which would replay up to 100. */
export const replayQuerySchema = onlyParameters({}, ': pass them in the JSON body, e.g. {"limit":100}');

export const replayResultSchema = z.object({
  replayed: z.array(z.object({ job_id: z.string().describe('the new job'), replay_of: z.string().describe('the original job') })),
  skipped: z.array(z.object({ job_id: z.string(), reason: z.string() })).describe('entries in the range that were not replayed, and why'),
  next_cursor: z.string().nullable().describe('more entries are in the range: send the same body with this `cursor` to replay them; null when done'),
});
export type ReplayResult = z.output<typeof replayResultSchema>;
