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
 * - `subscriber`: pub/sub only (it pings now and then, so a dead connection is noticed).
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
  /**
   * With a command waiting, no reply for this long means the connection is dead though still
   * open (its peer vanished without closing it: a node lost in a failover, a NAT that dropped the
   * flow; TCP alone notices after hours). It is then closed and replaced; what waited fails
   * (`failFast`) or is sent again on the new one. For a blocking read, add the longest it blocks.
   */
  silenceTimeoutMs?: number;
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
    // Idle connections are probed by TCP after 10 s instead of the system's two hours.
    keepAlive: 10_000,
    // After a failover a connection still open to the old primary (now a replica) has every write
    // refused with READONLY, while the address leads to the new primary: connect again, and send
    // the refused command (which did nothing) there. Without failFast it waits for the new one.
    reconnectOnError: (error) => (/\bREADONLY\b/.test(error.message) ? 2 : false),
  };
  if (options.silenceTimeoutMs !== undefined) settings.socketTimeout = options.silenceTimeoutMs;
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
  // A subscriber only listens, so nothing of its own waits for a reply that would reveal a dead
  // connection: it pings, and the silence timeout applies to the ping.
  if (options.role === 'subscriber' && options.silenceTimeoutMs !== undefined) {
    const pinger = setInterval(() => {
      if (redis.status === 'ready') redis.ping().catch(() => {});
    }, Math.max(100, options.silenceTimeoutMs / 2)).unref();
    redis.once('end', () => clearInterval(pinger));
  }
  // Errors are reported through the owner's logger via 'error' listeners it adds; this one only
  // keeps an unhandled 'error' event from killing the process while ioredis reconnects.
  redis.on('error', () => {});
  return redis;
}
