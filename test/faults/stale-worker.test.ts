import { deletePrefix, jobStatus, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, test } from 'vitest';
import { connect, enqueueEcho, FAST, report } from './fault-support.js';

test('a worker paused past its lease (SIGSTOP) and resumed does not overwrite the result of the attempt that took over', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('stale');
  const redis = connect(redisUrl);
  const workers: WorkerProcess[] = [];
  try {
    const paused = await startWorker({ redisUrl, prefix, env: FAST });
    workers.push(paused);
    const [id] = await enqueueEcho(redis, prefix, 1, 2_500, 2_500);
    const key = `${prefix}:{inference}:job:${id}`;
    await waitFor(async () => (await jobStatus(redis, prefix, id!)) === 'active', 'the first worker to take the job');
    paused.signal('SIGSTOP');
    const pausedAt = Date.now();

    const takeover = await startWorker({ redisUrl, prefix, env: FAST });
    workers.push(takeover);
    const finished = await waitFor(async () => {
      const record = await redis.hgetall(key);
      return record['status'] === 'completed' ? record : undefined;
    }, 'the attempt that took over to complete', 20_000);
    expect(finished).toMatchObject({ attempts: '2', stalls: '1', worker: takeover.logs()[0]!['worker'] });

    paused.signal('SIGCONT');
    const stale = await waitFor(
      () => paused.logs().find((line) => /completion refused|attempt stopped/.test(String(line['msg'])) && line['job_id'] === id),
      'the resumed worker to notice it lost the job',
    );
    await sleep(300);
    const after = await redis.hgetall(key);
    report('stale worker', { 'paused for ms': Date.now() - pausedAt, 'record after resume unchanged': JSON.stringify(after) === JSON.stringify(finished), 'stale worker said': stale['msg'] });
    expect(after).toEqual(finished);
    expect(paused.running).toBe(true);
  } finally {
    workers[0]?.signal('SIGCONT');
    await Promise.all(workers.map((worker) => worker.stop()));
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
});
