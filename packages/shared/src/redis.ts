import { Redis, type RedisOptions } from 'ioredis';
import { defineScripts } from './lua/scripts.js';

/**
 * Redis connections for Conveyor. A URL carries everything: `redis://` or `rediss://` (TLS),
 * an ACL user and password (`redis://user:password@host:6379/0`), and the database number.
 *
 * - `command`: scripts and plain commands. Concurrent callers' commands are in flight together
 *   (each is written at once; replies come back in order). Not ioredis's auto-pipelining: it
 *   holds every command for a setImmediate and lets one pipeline per connection be in flight,
 *   so a worker's next completions waited for the whole previous batch's replies (measured:
 *   24k against 30-35k no-op jobs/s for one worker).
 * - `blocking`: one long XREAD BLOCK at a time; never shared.
 * - `subscriber`: pub/sub only.
 *
 * `failFast` is for request paths (the API): nothing queues while Redis is unreachable and a
 * command that gets no answer within `commandTimeoutMs` fails, so a client gets a 503 at once
 * instead of a hanging request. Without it (workers), commands wait and are sent on reconnect.
 */
export type ConnectionRole = 'command' | 'blocking' | 'subscriber';

export interface ConnectionOptions {
  role: ConnectionRole;
  /** Shown by CLIENT LIST, e.g. `conveyor:api` or `conveyor:worker:<consumer>`. */
  name: string;
  failFast?: boolean;
  commandTimeoutMs?: number;
}

/** Reconnect delays: 50 ms doubling to 2 s, with jitter so a fleet does not reconnect in step. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(2_000, 50 * 2 ** Math.min(attempt, 6));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

export function createRedis(url: string, options: ConnectionOptions): Redis {
  const settings: RedisOptions = {
    connectionName: options.name.replace(/[^\w:.-]/g, '_'),
    retryStrategy: reconnectDelay,
    enableReadyCheck: true,
    lazyConnect: false,
  };
  if (options.failFast) {
    settings.enableOfflineQueue = false;
    settings.maxRetriesPerRequest = 0;
    settings.commandTimeout = options.commandTimeoutMs ?? 1_000;
    settings.connectTimeout = 2_000;
  } else {
    settings.maxRetriesPerRequest = null;
  }
  const redis = new Redis(url, settings);
  if (options.role === 'command') defineScripts(redis);
  // Errors are reported through the owner's logger via 'error' listeners it adds; this one only
  // keeps an unhandled 'error' event from killing the process while ioredis reconnects.
  redis.on('error', () => {});
  return redis;
}
