/// <reference path="./cluster-key-slot.d.ts" />
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { isIP } from 'node:net';
import { clusterSubscriber, connectSubscriberEarly, paceSubscriberReplacement, pingClusterSubscriber } from './cluster-subscriber.js';
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

/** A connection to one Redis, or to a Redis Cluster (`REDIS_CLUSTER=true`), which routes each command by its key's slot. */
export type RedisClient = Redis | Cluster;

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
  /**
   * REDIS_URL is one node of a Redis Cluster (a seed: the client learns the others from it). Each
   * command goes to the node serving its key's slot, following MOVED and ASK while slots move and
   * the slot map after a failover. Every key of a queue carries its hash tag, so each script,
   * pipeline and blocking read of a queue stays on one node.
   */
  cluster?: boolean;
  /**
   * With `cluster`, more nodes to start from (`host:port`), for when the URL's node cannot be
   * reached: the client reads the slot map from the first that answers. The URL's credentials
   * and TLS apply to them.
   */
  seeds?: readonly string[];
}

/** Reconnect delays: 50 ms doubling to 2 s, with jitter so a fleet does not reconnect in step. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(2_000, 50 * 2 ** Math.min(attempt, 6));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

export function createRedis(url: string, options: ConnectionOptions & { cluster: true }): Cluster;
export function createRedis(url: string, options: ConnectionOptions & { cluster?: false }): Redis;
export function createRedis(url: string, options: ConnectionOptions): RedisClient;
export function createRedis(url: string, options: ConnectionOptions): RedisClient {
  const settings: RedisOptions = {
    connectionName: options.name.replace(/[^\w:.-]/g, '_'),
    // RESP2, the protocol every reply here was written and measured against. ioredis 6 asks for
    // RESP3 by default (HELLO 3 on every connect, and CLIENT MAINT_NOTIFICATIONS to a single
    // Redis) and maps its replies back to RESP2's shapes: more commands per connect, for nothing
    // this code uses.
    protocol: 2,
    enableReadyCheck: true,
    // While a restarted Redis loads its data, ask again every 250 ms whether it is done, not after
    // its own estimate (up to 10 s): every connection is back soon after it is, so a worker that
    // holds jobs records them before another's takeover wait is out (see RedisRefusals).
    maxLoadingRetryTime: 250,
    // Idle connections are probed by TCP after 10 s instead of the system's two hours.
    keepAlive: 10_000,
    // After a failover a connection still open to the old primary (now a replica) has every write
    // refused with READONLY, while the address leads to the new primary: connect again, and send
    // the refused command (which did nothing) there. Without failFast it waits for the new one.
    reconnectOnError: (error) => (/\bREADONLY\b/.test(error.message) ? 2 : false),
  };
  if (options.silenceTimeoutMs !== undefined) settings.socketTimeout = options.silenceTimeoutMs;
  if (options.failFast) {
    settings.maxRetriesPerRequest = 0;
    settings.commandTimeout = options.commandTimeoutMs ?? 1_000;
    settings.connectTimeout = 2_000;
  } else {
    settings.maxRetriesPerRequest = null;
  }
  const redis = options.cluster ? connectCluster(url, settings, options) : new Redis(url, { ...settings, retryStrategy: reconnectDelay, enableOfflineQueue: !options.failFast });
  if (options.role === 'command') defineScripts(redis);
  // A subscriber only listens, so nothing of its own waits for a reply that would reveal a dead
  // connection: it pings, and the silence timeout applies to the ping.
  if (options.role === 'subscriber' && redis instanceof Cluster) connectSubscriberEarly(redis);
  if (options.role === 'subscriber' && options.silenceTimeoutMs !== undefined) {
    const silenceTimeoutMs = options.silenceTimeoutMs;
    const pinger = setInterval(() => {
      if (redis instanceof Cluster) pingClusterSubscriber(redis, silenceTimeoutMs);
      else if (redis.status === 'ready') redis.ping().catch(() => {});
    }, Math.max(100, silenceTimeoutMs / 2)).unref();
    redis.once('end', () => clearInterval(pinger));
  }
  // Errors are reported through the owner's logger via 'error' listeners it adds; this one only
  // keeps an unhandled 'error' event from killing the process while ioredis reconnects.
  redis.on('error', () => {});
  return redis;
}

/**
 * The first seed node, credentials and TLS of a cluster client come from the URL (its database
 * must be 0: config checks), more seed nodes from `options.seeds`. With TLS every node's
 * certificate is checked against the URL's host name: clusters announce their nodes by IP address
 * (managed ones too) while certificates name hosts.
 */
function connectCluster(url: string, settings: RedisOptions, options: ConnectionOptions): Cluster {
  const parsed = new URL(url);
  const node = { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 6379) };
  const tls = parsed.protocol === 'rediss:' ? (isIP(node.host) ? {} : { servername: node.host }) : undefined;
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...settings,
      ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      ...(tls ? { tls } : {}),
    },
    clusterRetryStrategy: reconnectDelay,
    enableOfflineQueue: !options.failFast,
    scaleReads: 'master',
    slotsRefreshTimeout: 2_000,
    // While a dead primary's slots wait for a replica to take over (the cluster's node timeout,
    // then an election), nodes answer MOVED to the dead one. Requests (failFast) fail over to a
    // 503 after ioredis's 16 tries; workers keep trying for about 20 s instead.
    ...(options.failFast ? {} : { maxRedirections: 200, retryDelayOnMoved: 100 }),
  };
  const seeds = (options.seeds ?? []).map((seed) => {
    const at = seed.lastIndexOf(':');
    return { host: seed.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(seed.slice(at + 1)) };
  });
  const cluster = new Cluster([node, ...seeds], clusterOptions);
  paceSubscriberReplacement(cluster, reconnectDelay);
  return cluster;
}

/**
 * Calls `listener` each time a subscriber's connection is back after a loss, with its
 * subscriptions restored: messages published meanwhile were missed, so listeners re-read state.
 * On a cluster this is a new connection, perhaps to another node, which the client subscribes
 * to the same channels; it is noticed within `checkEveryMs`.
 */
export function onSubscriptionsRestored(redis: RedisClient, listener: () => void, checkEveryMs = 1_000): void {
  if (!(redis instanceof Cluster)) {
    let lost = false;
    redis.on('close', () => (lost = true));
    redis.on('ready', () => {
      if (!lost) return;
      lost = false;
      listener();
    });
    return;
  }
  let current: Redis | undefined;
  const watcher = setInterval(() => {
    const subscriber = clusterSubscriber(redis);
    if (subscriber === undefined || subscriber === current) return;
    const replaced = current !== undefined;
    current = subscriber;
    if (!replaced) return;
    if (subscriber.status === 'ready') listener();
    else subscriber.once('ready', listener);
  }, checkEveryMs).unref();
  redis.once('end', () => clearInterval(watcher));
}

/**
 * The connection a client uses for `key`: the client itself, or on a cluster the connection to
 * the primary serving the key's slot (undefined while the slot map is unknown). For commands
 * that name no key but must reach that node, e.g. CLIENT ID and CLIENT UNBLOCK of a blocking read.
 */
export function connectionFor(redis: RedisClient, key: string): Redis | undefined {
  if (!(redis instanceof Cluster)) return redis;
  const nodeKey = redis.slots[calculateSlot(key)]?.[0];
  return redis.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === nodeKey);
}
