import { jobStatus, RedisServer, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { connect, enqueueEcho, FAST, statesOf } from './fault-support.js';

/**
 * Workers of one queue with different LEASE_MS (a rolling deploy that lowers it): a worker took
 * over entries idle past its own, shorter lease, so it took running jobs from a healthy worker
 * that renews every third of its longer one, and they ran twice. A takeover now waits out the
 * longest lease of the queue's live workers; once the long-lease worker is dead, its jobs are
 * taken over as before.
 */
test('a worker with a shorter LEASE_MS takes no running job from a live worker with a longer one, and takes them over once that worker is dead', { timeout: 60_000 }, async () => {
  const server = await RedisServer.start();
  const prefix = uniquePrefix('lease-mix');
  const redis = connect(server.url);
  const workers: WorkerProcess[] = [];
  try {
    // Renews every 2 s: its entries are up to 2 s idle, past the other worker's 1 s lease.
    const longLease = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, LEASE_MS: '6s', CONCURRENCY: '4' } });
    workers.push(longLease);
    const jobs = await enqueueEcho(redis, prefix, 4, 5_000, 5_000);
    await waitFor(async () => (await Promise.all(jobs.map((id) => jobStatus(redis, prefix, id)))).every((status) => status === 'active'), 'the long-lease worker to start every job');

    const shortLease = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, LEASE_MS: '1s', CONCURRENCY: '4' } });
    workers.push(shortLease);
    await sleep(3_500);
    // Still in their first attempt (which writes no record until it ends; a takeover writes one, attempt 2).
    expect(await Promise.all(jobs.map((id) => jobStatus(redis, prefix, id)))).toEqual(jobs.map(() => 'active'));
    for (const state of await statesOf(redis, prefix, jobs)) expect(state.attempts).toBeLessThan(2);
    expect(shortLease.lines.filter((line) => line.includes('took over'))).toEqual([]);

    longLease.signal('SIGKILL');
    const states = await waitFor(async () => {
      const all = await statesOf(redis, prefix, jobs);
      return all.every((state) => state.status === 'completed') && all;
    }, 'the short-lease worker to take over and complete the dead worker\'s jobs', 30_000);
    for (const state of states) {
      expect(state.attempts).toBe(2);
      expect(state.worker).toMatch(new RegExp(`-${shortLease.pid}$`));
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    redis.disconnect();
    await server.stop();
  }
});
