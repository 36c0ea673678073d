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

test('a job dead-lettered at a takeover for stalling once more than MAX_STALLS allows has its log line and counts in conveyor_jobs_dead_total', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('stalled-out');
  const redis = connect(redisUrl);
  const workers: WorkerProcess[] = [];
  const env = { ...FAST, MAX_STALLS: '0' };
  try {
    const paused = await startWorker({ redisUrl, prefix, env });
    workers.push(paused);
    const [id] = await enqueueEcho(redis, prefix, 1, 5_000, 5_000);
    await waitFor(async () => (await jobStatus(redis, prefix, id!)) === 'active', 'the first worker to take the job');
    paused.signal('SIGSTOP');

    const takeover = await startWorker({ redisUrl, prefix, env });
    workers.push(takeover);
    await waitFor(async () => (await jobStatus(redis, prefix, id!)) === 'dead', 'the takeover to dead-letter the job', 20_000);
    const line = await waitFor(() => takeover.logs().find((entry) => entry['job_id'] === id), 'the takeover to log the dead letter');
    expect(line).toMatchObject({ level: 50, code: 'STALLED', stalls: 1, stage: 'infer', msg: expect.stringMatching(/^job dead-lettered: the workers holding it stopped before it finished once, more than MAX_STALLS \(0\) allows; POST \/jobs\/.+\/retry runs it again$/) });
    const metrics = await (await fetch(`http://127.0.0.1:${takeover.healthPort}/metrics`)).text();
    expect(metrics).toMatch(/^conveyor_jobs_dead_total\{queue="inference",stage="infer"\} 1$/m);
    expect(metrics).not.toMatch(/^conveyor_jobs_reclaimed_total\{[^}]*\} [1-9]/m);
  } finally {
    workers[0]?.signal('SIGCONT');
    await Promise.all(workers.map((worker) => worker.stop()));
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
});
