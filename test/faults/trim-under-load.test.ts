import { QueueKeys, trimHistory } from '@conveyor/shared';
import { deletePrefix, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, test } from 'vitest';
import { connect, enqueueEcho, FAST, pendingAndActive, report, statesOf } from './fault-support.js';

test('with no history kept and trimming all the time, no entry is trimmed before every group has acked it: all 5000 jobs complete, and a slow second group reads every entry', { timeout: 120_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('trim');
  const redis = connect(redisUrl);
  const stream = new QueueKeys(prefix, 'inference').stream('infer', 'normal');
  const workers: WorkerProcess[] = [];
  try {
    // A second consumer group on the same stream (an audit service, say) that lags far behind.
    await redis.xgroup('CREATE', stream, 'audit', '0', 'MKSTREAM');
    const env = { ...FAST, STREAM_HISTORY: '0ms', TRIM_INTERVAL: '20ms', MAINTENANCE_INTERVAL: '20ms', CONCURRENCY: '4' };
    workers.push(...(await Promise.all([1, 2].map(() => startWorker({ redisUrl, prefix, env })))));
    const ids = await enqueueEcho(redis, prefix, 5_000, 0, 4);

    let done = false;
    let trimmed = 0;
    let longest = 0;
    const trimmer = (async () => {
      while (!done) {
        trimmed += (await trimHistory(redis, stream, 0)).removed;
        longest = Math.max(longest, await redis.xlen(stream));
        await sleep(5);
      }
    })();
    const audited = new Set<string>();
    const auditor = (async () => {
      while (!done || audited.size < 5_000) {
        const reply = (await redis.xreadgroup('GROUP', 'audit', 'auditor', 'COUNT', 50, 'STREAMS', stream, '>')) as [string, [string, string[]][]][] | null;
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          audited.add(fields[1]!);
          await redis.xack(stream, 'audit', id);
        }
        await sleep(20);
      }
    })();

    const states = await waitFor(async () => {
      const all = await statesOf(redis, prefix, ids);
      return all.every((state) => state.status !== null && ['completed', 'dead'].includes(state.status)) ? all : undefined;
    }, 'all 5000 jobs to finish', 90_000, 250);
    done = true;
    await Promise.all([trimmer, auditor]);
    trimmed += (await trimHistory(redis, stream, 0)).removed;
    const { pending } = await pendingAndActive(redis, prefix);
    report('trim under load', {
      jobs: ids.length,
      completed: states.filter((s) => s.status === 'completed').length,
      'entries trimmed by the test alone': trimmed,
      'longest stream seen': longest,
      'stream length at the end': await redis.xlen(stream),
      'entries the slow group read': audited.size,
    });
    expect(states.filter((state) => state.status !== 'completed')).toEqual([]);
    expect(states.flatMap((state) => state.errors)).toEqual([]);
    expect(audited.size).toBe(5_000);
    expect(new Set(ids)).toEqual(audited);
    expect(pending).toBe(0);
    expect(await redis.xlen(stream)).toBeLessThan(50);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
});
