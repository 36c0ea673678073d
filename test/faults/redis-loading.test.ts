import { RedisServer, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { connect, countBy, enqueueEcho, FAST, pendingAndActive, report, statesOf } from './fault-support.js';

/** Keys of no queue, enough that a restarted Redis spends seconds loading them. */
const FILLER_KEYS = 3_000_000;
const LEASE_MS = 3_000;
const JOB_MS = 2_000;
/** How much later than the other worker the holder's connection is back. */
const HOLDER_LATE_MS = 1_200;

/**
 * While a restarted Redis loads its data it accepts connections and answers every command with
 * LOADING: no worker sees an error, and none can renew a lease, so leases lapse meanwhile and say
 * nothing about their holders. Connections come back at different times (each backs off at
 * random while Redis is away); here the holder's is held back (SIGSTOP) to make that certain.
 */
describe('Redis restarted with more data than it loads within a lease', () => {
  test('the jobs a live worker finished meanwhile are recorded by it when its connection is back later than another worker\'s: none taken over, none run twice', { timeout: 180_000 }, async () => {
    const server = await RedisServer.start({ appendfsync: 'everysec', extraArgs: ['--enable-debug-command', 'local'] });
    const prefix = uniquePrefix('loading');
    const workers: WorkerProcess[] = [];
    const redis = connect(server.url);
    const env = { ...FAST, LEASE_MS: `${LEASE_MS}ms`, CONCURRENCY: '8' };
    try {
      await redis.call('DEBUG', 'POPULATE', String(FILLER_KEYS), 'filler', '50');
      // Into the AOF's base file, which a restart loads (DEBUG POPULATE itself is not logged).
      await redis.bgrewriteaof();
      await waitFor(async () => /aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0/.test(await redis.info('persistence')), 'the AOF rewrite', 60_000, 100);

      const holder = await startWorker({ redisUrl: server.url, prefix, env });
      workers.push(holder);
      const ids = await enqueueEcho(redis, prefix, 8, JOB_MS, JOB_MS);
      await waitFor(async () => (await pendingAndActive(redis, prefix)).active === ids.length, 'the holder to run all 8 jobs', 20_000, 50);
      const other = await startWorker({ redisUrl: server.url, prefix, env });
      workers.push(other);

      const stopped = Date.now();
      await server.kill('SIGTERM');
      // The holder finishes every job while Redis is away, then waits for it.
      await sleep(JOB_MS + 500);
      holder.signal('SIGSTOP');
      const restarted = server.restart();
      const back = (line: Record<string, unknown>) => line.msg === 'Redis connection for commands is back';
      await waitFor(() => other.logs().some(back), 'the other worker\'s connection to be back', 60_000, 20);
      const awayMs = Date.now() - stopped;
      await sleep(HOLDER_LATE_MS);
      holder.signal('SIGCONT');
      await restarted;

      const states = await waitFor(async () => {
        const all = await statesOf(redis, prefix, ids);
        return all.every((state) => state.status === 'completed') ? all : undefined;
      }, 'every job to complete', 60_000, 100);
      const takenOver = other.logs().filter((line) => line.msg === 'took over a job whose lease lapsed');
      const refused = holder.logs().filter((line) => typeof line.msg === 'string' && line.msg.startsWith('completion refused: this attempt is no longer current'));
      report('Redis restart with a long load', {
        'Redis away (down, then loading) for ms': awayMs,
        'attempts per job': countBy(states, (state) => String(state.attempts)),
        'jobs taken over': takenOver.length,
        'completions refused': refused.length,
      });
      // Else this test would not test what it says: the leases lapsed while Redis was away.
      expect(awayMs).toBeGreaterThan(LEASE_MS + JOB_MS);
      expect(takenOver).toEqual([]);
      expect(refused).toEqual([]);
      expect(states.map((state) => [state.attempts, state.worker])).toEqual(ids.map(() => [1, holder.logs().find((line) => line.msg === 'worker running')?.worker]));
      expect(await pendingAndActive(redis, prefix)).toEqual({ pending: 0, active: 0 });
      expect(workers.every((worker) => worker.running)).toBe(true);
    } finally {
      for (const worker of workers) worker.signal('SIGCONT');
      await Promise.all(workers.map((worker) => worker.stop()));
      redis.disconnect();
      await server.stop();
    }
  });
});
