import type { Cluster, Redis } from 'ioredis';

/**
 * A cluster client (ioredis) keeps its subscriptions on a connection of its own to one node,
 * made without the connection settings of the rest (no socket timeout), and replaces it,
 * subscribing again, when it ends. Keyless commands such as PING go to any node, not to it, so it
 * is reached here through a field ioredis does not make public (`subscriber`), for three fixes:
 * connecting it early, spacing its replacements, and pinging it. ioredis is held to 6.x; the
 * cluster tests (fresh starts, silent connections, the whole cluster down) fail if it moves.
 */

/**
 * ioredis connects the subscriber connection on its first SUBSCRIBE; its ready check (INFO) can
 * then go out after that SUBSCRIBE, be refused in subscriber mode, and fail the subscription
 * (about one API start in four refused an SSE stream). It is connected before anything subscribes.
 */
export function connectSubscriberEarly(redis: Cluster): void {
  redis.on('ready', () => clusterSubscriber(redis)?.connect().catch(() => {}));
}

/**
 * ioredis replaces a cluster's subscriber connection the moment it ends, with no pause: while no
 * node takes connections (the whole cluster down) that is a loop that kept a worker's core busy.
 * Replacements are spaced like reconnects (`delay`), starting over once one is ready.
 * Patched before the client starts its subscriber (on ready), so every replacement goes through it.
 */
export function paceSubscriberReplacement(redis: Cluster, delay: (attempt: number) => number): void {
  const subscriber = (redis as unknown as { subscriber?: { onSubscriberEnd?: () => void; getInstance(): Redis | null } }).subscriber;
  const replace = subscriber?.onSubscriberEnd;
  if (subscriber === undefined || typeof replace !== 'function') return;
  let attempt = 0;
  subscriber.onSubscriberEnd = () => {
    setTimeout(() => {
      replace();
      subscriber.getInstance()?.once('ready', () => (attempt = 0));
    }, delay(attempt++)).unref();
  };
}

/**
 * The cluster client's subscriber connection (undefined if ioredis moves it).
 */
export function clusterSubscriber(redis: Cluster): Redis | undefined {
  return (redis as unknown as { subscriber?: { getInstance(): Redis | null } }).subscriber?.getInstance() ?? undefined;
}

/** Pings the cluster subscriber's connection; one silent for `silenceTimeoutMs` is ended, so the client replaces it. */
export function pingClusterSubscriber(redis: Cluster, silenceTimeoutMs: number): void {
  const subscriber = clusterSubscriber(redis);
  if (subscriber?.status !== 'ready') return;
  const silent = setTimeout(() => subscriber.disconnect(), silenceTimeoutMs);
  subscriber.ping().then(
    () => clearTimeout(silent),
    () => clearTimeout(silent),
  );
}
