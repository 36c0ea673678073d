import { z } from 'zod';

/**
 * What GET /queues and GET /queues/:name answer. The seed's `get_queue_stats()` reported
 * `total_tasks` (XINFO STREAM length), `pending_tasks` (the group's pending count) and
 * `consumers` (the group's consumer count) for one stream; here each lane's stream reports them,
 * and each stage sums them over its three lanes.
 */

const count = z.number().int().min(0);

export const EVENT_NAMES = ['enqueued', 'completed', 'failed', 'retried', 'dead', 'cancelled'] as const;
export type EventName = (typeof EVENT_NAMES)[number];

export const eventCountsSchema = z
  .object({
    since: z.string().describe('start of the window (ISO 8601, UTC, on a minute boundary); it ends now'),
    enqueued: count.describe("jobs accepted: the API's when it stores them (on the first stage), entries other producers XADD when a worker first takes them (on the stage they were added to), and dead jobs retried (on the stage they are queued again at)"),
    completed: count.describe('for a stage: its completions (a job moving on to the next stage counts); for a queue: jobs that finished the last stage'),
    failed: count.describe('failed attempts (each is then retried or dead-lettered)'),
    retried: count.describe('failed attempts scheduled for a retry'),
    dead: count.describe('jobs dead-lettered'),
    cancelled: count.describe('jobs cancelled'),
  })
  .describe('events counted by the transition scripts in per-minute buckets (kept 2 h)');

export const eventWindowsSchema = z.object({
  last_minute: eventCountsSchema.describe('the current minute so far (a partial minute: it starts again at 0 on each minute boundary)'),
  last_hour: eventCountsSchema.describe('the current minute and the 59 before it'),
});

export const consumerSchema = z.object({
  name: z.string().describe('consumer name: one worker process (CONSUMER_NAME)'),
  pending: count.describe('entries it holds (taken, not yet finished)'),
  idle_ms: count.describe('ms since it was last delivered an entry (Redis 7.0 counts neither lease renewals nor reads that found nothing: an idle worker grows idle too)'),
  live: z.boolean().describe('its worker said within the last 10 maintenance ticks (10 s by default) that it reads this queue; false for a worker that died or stopped, whose consumer stays for CONSUMER_RETENTION'),
});

export const oldestPendingSchema = z
  .object({
    entry_id: z.string(),
    consumer: z.string().describe('the consumer that holds it'),
    age_ms: count.describe('ms since the entry was added to the stream (from its ID)'),
    idle_ms: count.describe('ms since it was last delivered or its lease renewed: far above LEASE_MS means its worker is gone'),
    deliveries: count.describe("Redis's delivery counter (lease renewals do not count; the job record counts attempts)"),
  })
  .nullable()
  .describe('the lowest-ID entry held by a worker; null when none is held');

const tasksFields = {
  total_tasks: count.describe("entries kept in the stream (XLEN): waiting, held, and acknowledged history not yet trimmed; the seed's total_tasks"),
  waiting_tasks: count
    .nullable()
    .describe(
      "entries no worker has taken yet (the group's lag). Redis 7 cannot tell the lag after entries were deleted (XDEL) past the last delivered one; the API then counts them itself, up to 1000 (or about 4 MiB of them), and says null when there are more",
    ),
  pending_tasks: count.describe("entries taken by workers and not yet finished (the group's PEL); the seed's pending_tasks"),
  consumers: count.describe("consumers in the stage's group; the seed's consumers. A stage counts each consumer once over its lanes"),
  live_consumers: count.describe('consumers whose worker is alive and taking jobs (see consumer_details.live): 0 while jobs wait means nobody reads them'),
  consumer_details: z.array(consumerSchema).describe('each consumer, by name'),
  oldest_pending: oldestPendingSchema,
};

export const laneStatsSchema = z.object({
  stream: z.string().describe('the Redis key of the stream (e.g. for an autoscaler); its consumer group is named after the stage'),
  ...tasksFields,
  entries_added: count.describe('entries ever added to the stream'),
  first_entry_id: z.string().nullable().describe('the oldest entry kept: history and replay reach back to here'),
  last_delivered_id: z.string().nullable().describe("the group's last delivered entry; null when the group does not exist"),
});

export const stageStatsSchema = z.object({
  name: z.string(),
  paused: z.boolean().describe('workers take nothing from this stage (it, or the whole queue, is paused)'),
  ...tasksFields,
  counts: eventWindowsSchema,
  lanes: z.object({ high: laneStatsSchema, normal: laneStatsSchema, low: laneStatsSchema }),
});

const queueFigures = {
  queue: z.string(),
  input: z.enum(['json', 'document']).describe('json: POST /jobs; document: POST /documents'),
  paused: z.array(z.string()).describe('paused stages; "*" means the whole queue'),
  delayed: count.describe('jobs waiting for a retry backoff or a run_at time'),
  dead: count.describe('dead-lettered jobs kept (GET /queues/{name}/dead)'),
  counts: eventWindowsSchema,
  stages: z.array(stageStatsSchema).describe('in pipeline order'),
  measured_at: z.string().describe("Redis's clock when this was read (ISO 8601, UTC)"),
};

export const queueStatsSchema = z.object({
  ...queueFigures,
  partitions: z
    .array(z.object(queueFigures))
    .optional()
    .describe('on a partitioned queue (QUEUE_PARTITIONS), the figures of the queue\'s own streams and then of each partition (`<queue>.<n>`); the figures above are their sums'),
});
export type QueueStats = z.output<typeof queueStatsSchema>;
export type StageStats = z.output<typeof stageStatsSchema>;
export type LaneStats = z.output<typeof laneStatsSchema>;
export type EventCounts = z.output<typeof eventCountsSchema>;

export const queueListSchema = z.object({ queues: z.array(queueStatsSchema) });
