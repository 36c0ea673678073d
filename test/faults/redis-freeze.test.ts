import { RedisServer, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { connect, countBy, enqueueEcho, FAST, report, statesOf } from './fault-support.js';

/**
 * Redis freezes (SIGSTOP: a stalled VM, a long fork on a big dataset) for longer than
 * REDIS_TIMEOUT while a busy worker takes and completes jobs. The worker gives up on its
 * connection and sends what waited again on a new one; Redis, once it runs again, first runs
 * what the old connection had sent. Each job must still run once, and none wait out a lease:
 * a take run twice used to leave the first run's jobs started and held by nobody until their
 * lease lapsed (then taken over as a stall).
 */
test('a Redis frozen past REDIS_TIMEOUT while a worker takes and completes: every job runs once, none waits for its lease to lapse', { timeout: 120_000 }, async () => {
  const server = await RedisServer.start();
  const prefix = uniquePrefix('freeze');
  const redis = connect(server.url);
  let worker: WorkerProcess | undefined;
  try {
    // A lease far longer than the wait below: a job left unheld would only come back after it.
    worker = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, LEASE_MS: '60s', REDIS_TIMEOUT: '1s', CONCURRENCY: '8' } });
    const ids = await enqueueEcho(redis, prefix, 4_000, 5, 15);
    const completed = async () => (await statesOf(redis, prefix, ids)).filter((state) => state.status === 'completed').length;
    await waitFor(async () => (await completed()) >= 300, 'the worker to be busy');

    const freezes: number[] = [];
    for (let i = 0; i < 2; i++) {
      process.kill(server.pid!, 'SIGSTOP');
      await sleep(2_500);
      process.kill(server.pid!, 'SIGCONT');
      freezes.push(await completed());
      await sleep(1_000);
    }
    const resumedAt = Date.now();
    await waitFor(async () => (await completed()) === ids.length, 'every job to complete', 40_000);
    const states = await statesOf(redis, prefix, ids);
    const repeated = worker.logs().filter((line) => line['msg'] === 'a call sent again after its reply was lost replied what Redis had done the first time');
    const dropped = worker.logs().filter((line) => /completion refused|failure not recorded/.test(String(line['msg'])));
    report('Redis frozen twice for 2.5 s (REDIS_TIMEOUT 1 s)', {
      'completed at each resume': freezes,
      'ms from the last resume to the last job': Date.now() - resumedAt,
      attempts: countBy(states, (state) => String(state.attempts)),
      'calls replied from their first run': repeated.map((line) => `${line['call']}: ${line['jobs']} jobs`),
      'completions refused': dropped.length,
    });
    expect(states.every((state) => state.attempts === 1 && state.errors.length === 0)).toBe(true);
    expect(dropped).toEqual([]);
    // The freezes did catch calls under way: at least one was replied from its first run.
    expect(repeated.length).toBeGreaterThan(0);
  } finally {
    if (server.pid) process.kill(server.pid, 'SIGCONT');
    await worker?.stop(5_000);
    redis.disconnect();
    await server.stop();
  }
});
