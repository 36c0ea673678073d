import { QueueKeys, takeJobs } from '@conveyor/shared';
import { jobStatus, RedisServer, startWorker, takeRequest, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { connect, enqueueEcho, FAST, statesOf } from './fault-support.js';

/**
 * A busy worker keeps its next free slot for a job whose lease lapsed (a dead worker's). When
 * another worker takes that job over first, the slot must go back to the readers: kept on, the
 * worker took nothing more, with nothing in flight. Found in the chaos test, where one of three
 * workers stopped after a kill (its count of completed jobs stayed put for the whole drain).
 */
test('a slot kept for a lapsed job that another worker takes over goes back to the readers, and the worker takes new jobs', { timeout: 60_000 }, async () => {
  const server = await RedisServer.start();
  const prefix = uniquePrefix('kept');
  const redis = connect(server.url);
  const workers: WorkerProcess[] = [];
  try {
    const env = { ...FAST, CONCURRENCY: '1' };
    const busy = await startWorker({ redisUrl: server.url, prefix, env });
    workers.push(busy);
    // The busy worker's one slot runs a 6 s job...
    const [long] = await enqueueEcho(redis, prefix, 1, 6_000, 6_000);
    await waitFor(async () => (await jobStatus(redis, prefix, long!)) === 'active', 'the long job to start');
    // ... while a worker that then died holds another job, whose lease lapses a second later.
    const [lapsed] = await enqueueEcho(redis, prefix, 1);
    expect((await takeJobs(redis, new QueueKeys(prefix, 'inference'), takeRequest({ consumer: 'dead-worker', count: 1 }))).jobs).toHaveLength(1);
    await sleep(1_600); // the busy worker has seen it lapse, and keeps its next free slot for it

    // An idle worker takes it over first, and stops.
    const idle = await startWorker({ redisUrl: server.url, prefix, env });
    workers.push(idle);
    const [taken] = await waitFor(async () => {
      const states = await statesOf(redis, prefix, [lapsed!]);
      return states[0]!.status === 'completed' && states;
    }, 'the idle worker to take over the lapsed job');
    expect(taken!.worker).toMatch(new RegExp(`-${idle.pid}$`));
    await idle.stop();
    await waitFor(async () => (await jobStatus(redis, prefix, long!)) === 'completed', 'the long job to complete');

    // The busy worker, now idle, takes new jobs.
    const fresh = await enqueueEcho(redis, prefix, 3);
    const states = await waitFor(async () => {
      const all = await statesOf(redis, prefix, fresh);
      return all.every((state) => state.status === 'completed') && all;
    }, 'the jobs sent afterwards to complete', 5_000);
    for (const state of states) expect(state.worker).toMatch(new RegExp(`-${busy.pid}$`));
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    redis.disconnect();
    await server.stop();
  }
});
