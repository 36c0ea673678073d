import { jobStatus, RedisServer, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { connect, enqueueEcho, FAST, statesOf } from './fault-support.js';

/** Workers that sweep out the words of workers silent for a second, five times a second. */
const SWEEPING = { CONSUMER_RETENTION: '1s', TRIM_INTERVAL: '200ms' };

/**
 * Workers of one queue with different LEASE_MS (a rolling deploy that changes it). A takeover
 * waits out the lease of the entry's holder: the LEASE_MS its worker named in its heartbeat.
 *
 * A worker that took over entries idle past its own, shorter lease took running jobs from a
 * healthy worker that renews every third of its longer one, and they ran twice. Waiting out the
 * longest lease of the live workers fixed that only while the long-lease worker's word held
 * (10 ticks): one that stood still longer (a GC pause, a SIGSTOP) lost its jobs all the same, and
 * a live long-lease worker delayed the takeover of a dead short-lease worker's jobs by its whole
 * lease. And a lease is named as long as its worker holds jobs: swept with the worker's word after
 * CONSUMER_RETENTION, a draining or frozen worker's lease went before the jobs it held lapsed.
 */
test('a worker with a shorter LEASE_MS takes no running job from a worker with a longer one, even one standing still past its word, and takes them over once it is dead', { timeout: 60_000 }, async () => {
  const server = await RedisServer.start();
  const prefix = uniquePrefix('lease-mix');
  const redis = connect(server.url);
  const workers: WorkerProcess[] = [];
  try {
    // Renews every 3 s: its entries are up to 3 s idle, past the other worker's 1 s lease.
    const longLease = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, ...SWEEPING, LEASE_MS: '9s', CONCURRENCY: '4' } });
    workers.push(longLease);
    const jobs = await enqueueEcho(redis, prefix, 4, 8_000, 8_000);
    await waitFor(async () => (await Promise.all(jobs.map((id) => jobStatus(redis, prefix, id)))).every((status) => status === 'active'), 'the long-lease worker to start every job');

    const shortLease = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, ...SWEEPING, LEASE_MS: '1s', CONCURRENCY: '4' } });
    workers.push(shortLease);
    await sleep(3_000);
    // Still in their first attempt (which writes no record until it ends; a takeover writes one, attempt 2).
    expect(await Promise.all(jobs.map((id) => jobStatus(redis, prefix, id)))).toEqual(jobs.map(() => 'active'));
    for (const state of await statesOf(redis, prefix, jobs)) expect(state.attempts).toBeLessThan(2);

    // Standing still for 3.5 s: its word (10 ticks of 100 ms) runs out, and is swept a second
    // later; its 9 s lease does not (its entries are at most 6.5 s idle when it goes on).
    longLease.signal('SIGSTOP');
    await sleep(3_500);
    longLease.signal('SIGCONT');
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

test("a live worker with a long LEASE_MS takes over a dead short-lease worker's jobs after the short lease, not its own", { timeout: 60_000 }, async () => {
  const server = await RedisServer.start();
  const prefix = uniquePrefix('lease-mix');
  const redis = connect(server.url);
  const workers: WorkerProcess[] = [];
  try {
    const shortLease = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, LEASE_MS: '1s', CONCURRENCY: '4' } });
    workers.push(shortLease);
    const jobs = await enqueueEcho(redis, prefix, 4, 3_000, 3_000);
    await waitFor(async () => (await Promise.all(jobs.map((id) => jobStatus(redis, prefix, id)))).every((status) => status === 'active'), 'the short-lease worker to start every job');
    const longLease = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, LEASE_MS: '60s', CONCURRENCY: '4' } });
    workers.push(longLease);

    shortLease.signal('SIGKILL');
    const killedAt = Date.now();
    const states = await waitFor(async () => {
      const all = await statesOf(redis, prefix, jobs);
      return all.every((state) => state.status === 'completed') && all;
    }, "the long-lease worker to take over and complete the dead worker's jobs", 20_000);
    // 1 s of lease, a tick, 3 s of work: nowhere near the 60 s lease.
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    for (const state of states) {
      expect(state.attempts).toBe(2);
      expect(state.worker).toMatch(new RegExp(`-${longLease.pid}$`));
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    redis.disconnect();
    await server.stop();
  }
});

test("a draining worker keeps its jobs through its grace period, though its word has ended and CONSUMER_RETENTION is shorter than the grace", { timeout: 60_000 }, async () => {
  const server = await RedisServer.start();
  const prefix = uniquePrefix('lease-mix');
  const redis = connect(server.url);
  const workers: WorkerProcess[] = [];
  try {
    const draining = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, ...SWEEPING, LEASE_MS: '6s', CONCURRENCY: '4', SHUTDOWN_GRACE_MS: '15s' } });
    workers.push(draining);
    const jobs = await enqueueEcho(redis, prefix, 4, 5_000, 5_000);
    await waitFor(async () => (await Promise.all(jobs.map((id) => jobStatus(redis, prefix, id)))).every((status) => status === 'active'), 'the worker to start every job');
    const other = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, ...SWEEPING, LEASE_MS: '1s', CONCURRENCY: '4' } });
    workers.push(other);

    draining.signal('SIGTERM');
    const states = await waitFor(async () => {
      const all = await statesOf(redis, prefix, jobs);
      return all.every((state) => state.status === 'completed') && all;
    }, 'the draining worker to complete its jobs', 20_000);
    for (const state of states) {
      expect(state.attempts).toBe(1);
      expect(state.worker).toMatch(new RegExp(`-${draining.pid}$`));
    }
    expect(other.lines.filter((line) => line.includes('took over'))).toEqual([]);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    redis.disconnect();
    await server.stop();
  }
});

test('a worker restarted under the same CONSUMER_NAME with a longer lease and fewer slots lets go of the jobs it has no slot for, and another worker takes them at once', { timeout: 60_000 }, async () => {
  const server = await RedisServer.start();
  const prefix = uniquePrefix('lease-mix');
  const redis = connect(server.url);
  const workers: WorkerProcess[] = [];
  try {
    const before = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, CONSUMER_NAME: 'stable', LEASE_MS: '1s', CONCURRENCY: '8', SHUTDOWN_GRACE_MS: '300ms' } });
    workers.push(before);
    const jobs = await enqueueEcho(redis, prefix, 8, 3_000, 3_000);
    await waitFor(async () => (await Promise.all(jobs.map((id) => jobStatus(redis, prefix, id)))).every((status) => status === 'active'), 'the first worker to start every job');
    await before.stop();

    // Its 8 jobs were released; the new one re-reads 2 and names its 20 s lease for the 6 others.
    const after = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, CONSUMER_NAME: 'stable', LEASE_MS: '20s', CONCURRENCY: '2' } });
    workers.push(after);
    const other = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, LEASE_MS: '20s', CONCURRENCY: '6' } });
    workers.push(other);
    const startedAt = Date.now();
    await waitFor(async () => (await statesOf(redis, prefix, jobs)).every((state) => state.status === 'completed'), 'every job to complete', 30_000);
    // 3 s of work and a tick or two, not the 20 s lease.
    expect(Date.now() - startedAt).toBeLessThan(12_000);
    expect(after.lines.filter((line) => line.includes('let go of them for any worker to take over'))).toHaveLength(1);
    // (The other worker takes them, or the restarted one once its two are done.)
    expect([...after.lines, ...other.lines].filter((line) => line.includes('took over a job a stopping worker released'))).toHaveLength(6);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    redis.disconnect();
    await server.stop();
  }
});
