import { jobStatus, RedisServer, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test as base } from 'vitest';
import { connect, enqueueEcho, FAST, statesOf, type JobState } from './fault-support.js';

/** Workers that sweep out the words of workers silent for a second, five times a second. */
const SWEEPING = { CONSUMER_RETENTION: '1s', TRIM_INTERVAL: '200ms' };

/** A Redis of the test's own, a connection to it, and workers started on it (`start`), all stopped after the test. */
interface Fleet {
  redis: Redis;
  prefix: string;
  start(env: Record<string, string>): Promise<WorkerProcess>;
}

const test = base.extend<{ fleet: Fleet }>({
  fleet: async ({}, use) => {
    const server = await RedisServer.start();
    const prefix = uniquePrefix('lease-mix');
    const redis = connect(server.url);
    const workers: WorkerProcess[] = [];
    try {
      await use({
        redis,
        prefix,
        start: async (env) => {
          const worker = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, ...env } });
          workers.push(worker);
          return worker;
        },
      });
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
      redis.disconnect();
      await server.stop();
    }
  },
});

async function allActive({ redis, prefix }: Fleet, jobs: readonly string[], what: string): Promise<void> {
  await waitFor(async () => (await Promise.all(jobs.map((id) => jobStatus(redis, prefix, id)))).every((status) => status === 'active'), what);
}

async function allCompleted({ redis, prefix }: Fleet, jobs: readonly string[], what: string, timeoutMs: number): Promise<JobState[]> {
  return waitFor(async () => {
    const all = await statesOf(redis, prefix, jobs);
    return all.every((state) => state.status === 'completed') && all;
  }, what, timeoutMs);
}

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
test('a worker with a shorter LEASE_MS takes no running job from a worker with a longer one, even one standing still past its word, and takes them over once it is dead', { timeout: 60_000 }, async ({ fleet }) => {
  const { redis, prefix } = fleet;
  // Renews every 3 s: its entries are up to 3 s idle, past the other worker's 1 s lease.
  const longLease = await fleet.start({ ...SWEEPING, LEASE_MS: '9s', CONCURRENCY: '4' });
  const jobs = await enqueueEcho(redis, prefix, 4, 8_000, 8_000);
  await allActive(fleet, jobs, 'the long-lease worker to start every job');

  const shortLease = await fleet.start({ ...SWEEPING, LEASE_MS: '1s', CONCURRENCY: '4' });
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
  for (const state of await allCompleted(fleet, jobs, "the short-lease worker to take over and complete the dead worker's jobs", 30_000)) {
    expect(state.attempts).toBe(2);
    expect(state.worker).toMatch(new RegExp(`-${shortLease.pid}$`));
  }
});

test("a live worker with a long LEASE_MS takes over a dead short-lease worker's jobs after the short lease, not its own", { timeout: 60_000 }, async ({ fleet }) => {
  const shortLease = await fleet.start({ LEASE_MS: '1s', CONCURRENCY: '4' });
  const jobs = await enqueueEcho(fleet.redis, fleet.prefix, 4, 3_000, 3_000);
  await allActive(fleet, jobs, 'the short-lease worker to start every job');
  const longLease = await fleet.start({ LEASE_MS: '60s', CONCURRENCY: '4' });

  shortLease.signal('SIGKILL');
  const killedAt = Date.now();
  const states = await allCompleted(fleet, jobs, "the long-lease worker to take over and complete the dead worker's jobs", 20_000);
  // 1 s of lease, a tick, 3 s of work: nowhere near the 60 s lease.
  expect(Date.now() - killedAt).toBeLessThan(15_000);
  for (const state of states) {
    expect(state.attempts).toBe(2);
    expect(state.worker).toMatch(new RegExp(`-${longLease.pid}$`));
  }
});

test('a draining worker keeps its jobs through its grace period, though its word has ended and CONSUMER_RETENTION is shorter than the grace', { timeout: 60_000 }, async ({ fleet }) => {
  const draining = await fleet.start({ ...SWEEPING, LEASE_MS: '6s', CONCURRENCY: '4', SHUTDOWN_GRACE_MS: '15s' });
  const jobs = await enqueueEcho(fleet.redis, fleet.prefix, 4, 5_000, 5_000);
  await allActive(fleet, jobs, 'the worker to start every job');
  const other = await fleet.start({ ...SWEEPING, LEASE_MS: '1s', CONCURRENCY: '4' });

  draining.signal('SIGTERM');
  for (const state of await allCompleted(fleet, jobs, 'the draining worker to complete its jobs', 20_000)) {
    expect(state.attempts).toBe(1);
    expect(state.worker).toMatch(new RegExp(`-${draining.pid}$`));
  }
  expect(other.lines.filter((line) => line.includes('took over'))).toEqual([]);
});

test('a worker restarted under the same CONSUMER_NAME with a longer lease and fewer slots lets go of the jobs it has no slot for, and another worker takes them at once', { timeout: 60_000 }, async ({ fleet }) => {
  const before = await fleet.start({ CONSUMER_NAME: 'stable', LEASE_MS: '1s', CONCURRENCY: '8', SHUTDOWN_GRACE_MS: '300ms' });
  const jobs = await enqueueEcho(fleet.redis, fleet.prefix, 8, 3_000, 3_000);
  await allActive(fleet, jobs, 'the first worker to start every job');
  await before.stop();

  // Its 8 jobs were released; the new one re-reads 2 and names its 20 s lease for the 6 others.
  const after = await fleet.start({ CONSUMER_NAME: 'stable', LEASE_MS: '20s', CONCURRENCY: '2' });
  const other = await fleet.start({ LEASE_MS: '20s', CONCURRENCY: '6' });
  const startedAt = Date.now();
  await allCompleted(fleet, jobs, 'every job to complete', 30_000);
  // 3 s of work and a tick or two, not the 20 s lease.
  expect(Date.now() - startedAt).toBeLessThan(12_000);
  expect(after.lines.filter((line) => line.includes('let go of them for any worker to take over'))).toHaveLength(1);
  // (The other worker takes them, or the restarted one once its two are done.)
  expect([...after.lines, ...other.lines].filter((line) => line.includes('took over a job a stopping worker released'))).toHaveLength(6);
});

test('a job taken after its worker last named its lease is not taken over before that lease is out, once the worker stands still and a short-lease worker sweeps', { timeout: 60_000 }, async ({ fleet }) => {
  // Names its lease at start and then every 20 s: the job below is taken 4 s after the last naming.
  const longLease = await fleet.start({ LEASE_MS: '8s', CONCURRENCY: '1', MAINTENANCE_INTERVAL: '20s', SHUTDOWN_GRACE_MS: '100ms' });
  await sleep(4_000);
  const jobs = await enqueueEcho(fleet.redis, fleet.prefix, 1, 20_000, 20_000);
  await allActive(fleet, jobs, 'the long-lease worker to start the job');
  longLease.signal('SIGSTOP');
  // Its lease was last named about 4 s before the job was taken: swept 8 s after that naming, the
  // job was taken over 4 s into its 8 s lease.
  const sweeper = await fleet.start({ ...SWEEPING, LEASE_MS: '1s' });
  await sleep(5_500);
  longLease.signal('SIGCONT');
  await sleep(500);
  expect(sweeper.lines.filter((line) => line.includes('took over'))).toEqual([]);
  expect((await statesOf(fleet.redis, fleet.prefix, jobs))[0]!.attempts).toBeLessThan(2);
});
