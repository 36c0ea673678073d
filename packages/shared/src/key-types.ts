import { consumerClaimKey, LANES, QueueKeys } from './keys.js';
import type { Pipeline } from './pipelines.js';
import type { RedisClient } from './redis.js';
import { UnusableRedisError } from './redis-checks.js';

/** A key of a queue that holds another kind of value than Conveyor keeps there. */
export interface ForeignKey {
  key: string;
  /** What Redis says it holds (TYPE). */
  holds: string;
  /** What Conveyor keeps there. */
  expected: string;
}

/** The keys every queue has, by name, with the type Conveyor keeps in each. */
function keyTypes(prefix: string, pipeline: Pipeline): [key: string, type: string][] {
  const keys = new QueueKeys(prefix, pipeline.name);
  return [
    ...pipeline.stages.flatMap((stage) => LANES.map((lane): [string, string] => [keys.stream(stage, lane), 'stream'])),
    [keys.dead, 'stream'],
    [keys.delayed, 'zset'],
    // The current minute's counts: every transition writes them.
    [keys.stats(Math.floor(Date.now() / 60_000)), 'hash'],
    ...[keys.queued, keys.active, keys.cancelled, keys.workers, keys.leases, keys.paused].map((key): [string, string] => [key, 'hash']),
  ];
}

/**
 * The keys of these queues (and of a worker's `consumer` name) that hold another kind of value
 * than Conveyor keeps there: another program writes under KEY_PREFIX. Every command on such a key
 * fails with WRONGTYPE. One round trip per queue (its keys share one hash tag, so a cluster
 * serves them on one node).
 */
export async function findForeignKeys(redis: RedisClient, prefix: string, pipelines: readonly Pipeline[], consumer?: string): Promise<ForeignKey[]> {
  const groups: [key: string, type: string][][] = pipelines.map((pipeline) => keyTypes(prefix, pipeline));
  // A worker's claim on its name (see claimConsumer.lua), a key of no queue.
  if (consumer !== undefined) groups.push([[consumerClaimKey(prefix, consumer), 'string']]);
  return (await Promise.all(groups.map((expected) => foreignKeysAmong(redis, expected)))).flat();
}

/**
 * Which of `expected` (keys, each with the type Conveyor keeps there) hold another kind of value,
 * in one round trip: the keys must share a hash slot on a cluster (one queue's keys do).
 */
export async function foreignKeysAmong(redis: RedisClient, expected: readonly (readonly [key: string, type: string])[]): Promise<ForeignKey[]> {
  if (expected.length === 0) return [];
  const reads = redis.pipeline();
  for (const [key] of expected) reads.type(key);
  const replies = (await reads.exec()) ?? [];
  return expected.flatMap(([key, type], i): ForeignKey[] => {
    const [error, holds] = replies[i] ?? [null, 'none'];
    if (error) throw error;
    return holds === 'none' || holds === type ? [] : [{ key, holds: String(holds), expected: type }];
  });
}

/**
 * The foreign keys in words: `"k" holds a string, where Conveyor keeps a stream`, the first few;
 * when none was found (a key no look covers, such as a job's record), what Redis said of it.
 */
export function describeForeignKeys(found: readonly ForeignKey[], said?: Error): string {
  if (found.length === 0) return `a key of the queues holds another kind of value than Conveyor keeps there (Redis said: ${said?.message ?? 'WRONGTYPE'})`;
  const SHOWN = 5;
  const listed = found.slice(0, SHOWN).map(({ key, holds, expected }) => `"${key}" holds a ${holds}, where Conveyor keeps a ${expected}`);
  const more = found.length > SHOWN ? ` (and ${found.length - SHOWN} more)` : '';
  return `${listed.join('; ')}${more}`;
}

/** What an operator does about keys found while running: `an operator gives Conveyor … that key`. */
export function foreignKeysRemedy(found: readonly ForeignKey[]): string {
  return `an operator gives Conveyor a prefix of its own or renames or deletes ${found.length > 1 ? 'those keys' : 'that key'}`;
}

/**
 * Stops a process whose queues' keys hold other kinds of values: it would fail on them command
 * by command (jobs not stored, dead letters not kept, maintenance failing every tick). Checked
 * by the API and every worker each time they connect, before they create the consumer groups.
 */
export async function checkKeyTypes(redis: RedisClient, prefix: string, pipelines: readonly Pipeline[], consumer?: string): Promise<void> {
  const found = await findForeignKeys(redis, prefix, pipelines, consumer);
  if (found.length === 0) return;
  throw new UnusableRedisError(
    'REDIS_FOREIGN_KEYS',
    `Keys under KEY_PREFIX "${prefix}" hold values Conveyor does not write: ${describeForeignKeys(found)}. Another program uses this prefix. Give Conveyor a prefix of its own (KEY_PREFIX) or another database, or rename or delete those keys.`,
  );
}
