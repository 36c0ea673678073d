import { expect, test } from 'vitest';
import { ConnectionCause, explainConnectionError } from '../src/redis-errors.js';

test('a reset suggests TLS only before the connection was ever ready: after, it is Redis going away', () => {
  const reset = 'read ECONNRESET';
  expect(explainConnectionError(reset, 'redis://127.0.0.1:6379')).toBe('read ECONNRESET (if that port serves TLS, REDIS_URL takes rediss://)');
  expect(explainConnectionError(reset, 'rediss://127.0.0.1:6379')).toMatch(/^read ECONNRESET \(REDIS_URL is rediss:\/\/, so the connection speaks TLS/);
  // A plain Redis that was serving and shut down (the hint pointed the wrong way during an incident).
  expect(explainConnectionError(reset, 'redis://127.0.0.1:6379', true)).toBe('read ECONNRESET');
  expect(explainConnectionError(reset, 'rediss://127.0.0.1:6379', true)).toBe('read ECONNRESET');
});

test('a reply that is not Redis protocol names the likely cause instead of asking for a bug report', () => {
  expect(explainConnectionError('Unknown RESP type 72 "H". Please report this.', 'redis://127.0.0.1:8080')).toBe(
    `Unknown RESP type 72 "H". (what answers on REDIS_URL's host and port does not speak the Redis protocol: is it a Redis server?)`,
  );
});

test('the cause of a connection to something that is not Redis stays through the resets and broken writes of the retries, until the connection is ready', () => {
  const cause = new ConnectionCause('redis://127.0.0.1:8080');
  const notRedis = cause.note('Unknown RESP type 72 "H". Please report this.');
  expect(notRedis).toMatch(/does not speak the Redis protocol/);
  expect(cause.note('read ECONNRESET')).toBeUndefined();
  expect(cause.note('write EPIPE')).toBeUndefined();
  expect(cause.current).toBe(notRedis);
  cause.ready();
  expect(cause.current).toBeUndefined();
  // Redis that was ready and then resets: the reset is the cause, without a TLS hint.
  expect(cause.note('read ECONNRESET')).toBe('read ECONNRESET');
});
