import { ProblemError } from './problem-error.js';

/**
 * Redis failures a client can do nothing about but wait: the connection is down or slow,
 * Redis is loading, read-only after a failover, or out of memory. They become a 503 with
 * Retry-After. Any other Redis reply error is a bug and stays a 500.
 */
const transientReply = /^(OOM|LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;

export function asRedisUnavailable(error: unknown): ProblemError | undefined {
  if (!(error instanceof Error)) return undefined;
  const isReply = error.name === 'ReplyError';
  const transient = isReply ? transientReply.test(error.message) : isConnectionError(error);
  if (!transient) return undefined;
  const detail = error.message.startsWith('OOM')
    ? 'Redis is out of memory and refuses writes. Nothing was written.'
    : `Redis is unreachable (${error.message}). Nothing was written.`;
  return new ProblemError('service-unavailable', detail, {}, { 'retry-after': '1' });
}

function isConnectionError(error: Error): boolean {
  return (
    /Stream isn't writeable|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|max retries|enableOfflineQueue|Reached the max retries/i.test(
      error.message,
    ) || ['MaxRetriesPerRequestError', 'AbortError'].includes(error.name)
  );
}
