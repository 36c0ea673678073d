import { setTimeout as sleep } from 'node:timers/promises';
import { NonRetryableError } from '../non-retryable-error.js';
import type { Model } from './model.js';

/**
 * Returns the prompt. `params.sleep_ms` makes it take that long (tests and benchmarks use it
 * for slow jobs). `params.fail` makes it throw (`"always"`, or a number: fail that many
 * attempts, then succeed), and `params.fail_until` (a time, ISO or ms since the epoch) makes it
 * throw until then, like a model server that is down until it is fixed. `params.progress: true`
 * reports progress 50 halfway through `sleep_ms`.
 */
export const echo: Model = async (request, helpers) => {
  const { job } = helpers;
  const params = request.params ?? {};
  const sleepMs = Number(params['sleep_ms'] ?? 0);
  if (!Number.isFinite(sleepMs) || sleepMs < 0 || sleepMs > 3_600_000) {
    throw new NonRetryableError(`params.sleep_ms must be a number of milliseconds from 0 to 3600000, got ${JSON.stringify(params['sleep_ms'])}`, 'INVALID_PARAMS');
  }
  const progress = params['progress'];
  if (progress !== undefined && typeof progress !== 'boolean') {
    throw new NonRetryableError(`params.progress must be true or false, got ${JSON.stringify(progress)}`, 'INVALID_PARAMS');
  }
  if (progress) {
    await sleep(sleepMs / 2, undefined, { signal: helpers.signal });
    await helpers.progress(50, 'halfway');
    await sleep(sleepMs / 2, undefined, { signal: helpers.signal });
  } else if (sleepMs > 0) {
    await sleep(sleepMs, undefined, { signal: helpers.signal });
  }
  const fail = params['fail'];
  if (fail !== undefined && fail !== 'always' && !(Number.isInteger(fail) && (fail as number) >= 0)) {
    throw new NonRetryableError(`params.fail must be "always" or a number of attempts, got ${JSON.stringify(fail)}`, 'INVALID_PARAMS');
  }
  if (fail === 'always' || (typeof fail === 'number' && job.attempt <= fail)) {
    throw new Error(`echo was asked to fail (params.fail = ${JSON.stringify(fail)}, attempt ${job.attempt})`);
  }
  const failUntil = params['fail_until'];
  if (failUntil !== undefined) {
    const until = typeof failUntil === 'number' ? failUntil : Date.parse(String(failUntil));
    if (Number.isNaN(until)) throw new NonRetryableError(`params.fail_until must be a time, got ${JSON.stringify(failUntil)}`, 'INVALID_PARAMS');
    if (Date.now() < until) throw new Error(`echo is down until ${new Date(until).toISOString()} (params.fail_until)`);
  }
  return { model: 'echo', text: request.prompt ?? '' };
};
