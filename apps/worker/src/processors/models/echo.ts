import { readEchoParams } from '@conveyor/shared';
import { setTimeout as sleep } from 'node:timers/promises';
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
  const { sleepMs, progress, fail, failUntil } = readEchoParams(request.params);
  if (progress) {
    await sleep(sleepMs / 2, undefined, { signal: helpers.signal });
    await helpers.progress(50, 'halfway');
    await sleep(sleepMs / 2, undefined, { signal: helpers.signal });
  } else if (sleepMs > 0) {
    await sleep(sleepMs, undefined, { signal: helpers.signal });
  }
  if (fail === 'always' || (typeof fail === 'number' && job.attempt <= fail)) {
    throw new Error(`echo was asked to fail (params.fail = ${JSON.stringify(fail)}, attempt ${job.attempt})`);
  }
  if (failUntil !== undefined && Date.now() < failUntil) throw new Error(`echo is down until ${new Date(failUntil).toISOString()} (params.fail_until)`);
  return { model: 'echo', text: request.prompt ?? '' };
};
