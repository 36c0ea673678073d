import { deletePrefix, RedisServer, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, test } from 'vitest';
import { connect, enqueueEcho, FAST, report, statesOf } from './fault-support.js';

test('SIGTERM during 100 in-flight jobs: the worker finishes those that end within its grace period, releases the rest, exits 0, and every job completes (finished or taken over at once), none failed', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('shutdown');
  const redis = connect(redisUrl);
  // A long lease: released jobs must be taken over at once, not after the lease.
  // A grace period longer than the closing steps' own 2 s: with 1 s, a worker that skipped the
  // grace period and released every job at once passed too.
  const env = { ...FAST, LEASE_MS: '20s', CONCURRENCY: '100', SHUTDOWN_GRACE_MS: '5s', LOG_TRANSITIONS: 'true' };
  const workers: WorkerProcess[] = [];
  try {
    const stopping = await startWorker({ redisUrl, prefix, env });
    workers.push(stopping);
    // Half end well within the grace period, half well after it.
    const short = await enqueueEcho(redis, prefix, 50, 300, 3_000);
    const long = await enqueueEcho(redis, prefix, 50, 8_000, 9_000);
    const ids = [...short, ...long];
    await waitFor(async () => (await redis.hlen(`${prefix}:{inference}:active`)) === 100, 'the worker to hold all 100 jobs');
    workers.push(await startWorker({ redisUrl, prefix, env }));

    const signalled = Date.now();
    stopping.signal('SIGTERM');
    const exit = await stopping.exited;
    const exitMs = Date.now() - signalled;
    const states = await waitFor(async () => {
      const all = await statesOf(redis, prefix, ids);
      return all.every((state) => state.status === 'completed') ? all : undefined;
    }, 'all 100 jobs to complete', 25_000);
    const allDoneMs = Date.now() - signalled;
    const finishedIds = new Set(stopping.logs().filter((line) => line['msg'] === 'job completed').map((line) => line['job_id']));
    const finishedByStopping = finishedIds.size;
    report('graceful shutdown', {
      'exit code': exit.code,
      'exited after ms': exitMs,
      'finished within the grace period': finishedByStopping,
      'released and taken over': 100 - finishedByStopping,
      'all completed after ms': allDoneMs,
    });
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(8_000);
    // Every job that ends within the grace period is finished by the worker that held it; every
    // one that would not is released and runs elsewhere.
    expect(short.filter((id) => !finishedIds.has(id))).toEqual([]);
    expect(long.filter((id) => finishedIds.has(id))).toEqual([]);
    expect(states.flatMap((state) => state.errors)).toEqual([]);
    expect(allDoneMs).toBeLessThan(20_000);
    // Taking over released jobs is routine (every deploy does it): logged at info, not as lapsed leases.
    const taker = workers[1]!;
    const said = (msg: string) => taker.logs().filter((line) => line['msg'] === msg).length;
    expect(said('took over a job a stopping worker released')).toBe(100 - finishedByStopping);
    expect(said('took over a job whose lease lapsed')).toBe(0);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
});

test('a worker told to stop while Redis is unreachable still exits 0 soon after its grace period, and says it could not release its job', { timeout: 30_000 }, async () => {
  const server = await RedisServer.start();
  try {
    const prefix = uniquePrefix('down');
    const worker = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, SHUTDOWN_GRACE_MS: '1s' } });
    const redis = connect(server.url);
    await enqueueEcho(redis, prefix, 1, 10_000, 10_000);
    // The worker's own count, not the active index: that is written by the take, whose reply can
    // still be on its way when Redis is killed (once in CI: the worker then held nothing at all).
    await waitFor(async () => /^conveyor_jobs_in_flight 1$/m.test(await (await fetch(`http://127.0.0.1:${worker.healthPort}/metrics`)).text()), 'the worker to hold the job');
    redis.disconnect();
    await server.kill('SIGKILL');
    const signalled = Date.now();
    worker.signal('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    const exitMs = Date.now() - signalled;
    report('shutdown with Redis down', { 'exited after ms': exitMs });
    // The grace period, the 2 s it gives Redis to take its last words (3.02 s in all, run after
    // run), and room for a loaded machine: 4.03 s once beside a tester's load.
    expect(exitMs).toBeLessThan(1_000 + 4_000);
    const graceOver = worker.logs().find((line) => String(line['msg']).startsWith('grace period over'));
    expect(graceOver).toMatchObject({ held: 1, released: 0, unrecorded: 0, msg: 'grace period over; could not release every job still held: the rest are taken over once their lease lapses' });
    // The attempt's own line says so too (it said another worker takes the job over, as if at once).
    expect(worker.logs().filter((line) => String(line['msg']).startsWith('attempt stopped')).map((line) => line['msg'])).toEqual([
      'attempt stopped: the worker is shutting down; another worker takes the job over, once its lease lapses if it was not released',
    ]);
  } finally {
    await server.stop();
  }
});

test('a worker whose job finished while Redis was down says so as it stops, not that the job was still running', { timeout: 30_000 }, async () => {
  const server = await RedisServer.start();
  try {
    const prefix = uniquePrefix('down-finished');
    const worker = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, SHUTDOWN_GRACE_MS: '1s' } });
    const redis = connect(server.url);
    await enqueueEcho(redis, prefix, 1, 300, 300);
    await waitFor(async () => /^conveyor_jobs_in_flight 1$/m.test(await (await fetch(`http://127.0.0.1:${worker.healthPort}/metrics`)).text()), 'the worker to hold the job');
    redis.disconnect();
    await server.kill('SIGKILL');
    // The job ends 300 ms after it was taken; its completion cannot reach Redis, and waits for it.
    await sleep(800);
    worker.signal('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    const graceOver = worker.logs().find((line) => String(line['msg']).startsWith('grace period over'));
    expect(graceOver).toMatchObject({
      held: 1,
      released: 0,
      unrecorded: 1,
      msg: 'grace period over; could not release every job still held (1 of them finished, but Redis has not taken its outcome): the rest are taken over once their lease lapses',
    });
  } finally {
    await server.stop();
  }
});

/**
 * Two ways Redis stops answering an idle worker: killed, its connection fails at once; frozen,
 * Redis keeps every connection open and answers nothing, so the connection stays ready until
 * REDIS_TIMEOUT (15 s by default). Before, a worker took its whole grace period (20 s here) to
 * stop in either case: the word that it leaves its queues waited for Redis.
 */
const outages = [
  {
    name: 'killed',
    begin: async (server: RedisServer, worker: WorkerProcess) => {
      await server.kill('SIGKILL');
      await waitFor(async () => (await fetch(`http://127.0.0.1:${worker.healthPort}/readyz`)).status === 503, 'the worker to see Redis gone');
    },
    end: async () => {},
  },
  {
    name: 'frozen',
    begin: async (server: RedisServer) => void process.kill(server.pid!, 'SIGSTOP'),
    end: async (server: RedisServer) => void process.kill(server.pid!, 'SIGCONT'),
  },
];

test.each(outages)('a worker that holds nothing stops within seconds while Redis is $name, not after its whole grace period', { timeout: 40_000 }, async ({ name, begin, end }) => {
  const server = await RedisServer.start();
  const worker = await startWorker({ redisUrl: server.url, prefix: uniquePrefix(`idle-${name}`), env: { ...FAST, SHUTDOWN_GRACE_MS: '20s' } });
  try {
    await begin(server, worker);
    const signalled = Date.now();
    worker.signal('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    const exitMs = Date.now() - signalled;
    report(`idle shutdown with Redis ${name}`, { 'exited after ms': exitMs });
    expect(exitMs).toBeLessThan(6_000);
  } finally {
    await end(server);
    worker.signal('SIGKILL');
    await server.stop();
  }
});
