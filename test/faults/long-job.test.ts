import { deletePrefix, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { expect, inject, test } from 'vitest';
import { connect, enqueueEcho, FAST, report, statesOf } from './fault-support.js';

test('a job running three times its lease is not taken by another worker and completes once', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('long');
  const redis = connect(redisUrl);
  const env = { ...FAST, LEASE_MS: '1500ms', LOG_TRANSITIONS: 'true' };
  const workers: WorkerProcess[] = [];
  try {
    workers.push(...(await Promise.all([1, 2].map(() => startWorker({ redisUrl, prefix, env })))));
    const [id] = await enqueueEcho(redis, prefix, 1, 4_500, 4_500);
    const [state] = await waitFor(async () => {
      const states = await statesOf(redis, prefix, [id!]);
      return states[0]!.status === 'completed' ? states : undefined;
    }, 'the long job to complete', 30_000);
    const record = await redis.hgetall(`${prefix}:{inference}:job:${id}`);
    // The record says completed as soon as Redis ran the script; the worker's log line may still be in the pipe.
    const completedLines = () => workers.flatMap((worker) => worker.logs()).filter((line) => line['msg'] === 'job completed' && line['job_id'] === id);
    await waitFor(() => completedLines().length > 0, "the worker's log line for the completion");
    const logs = workers.flatMap((worker) => worker.logs());
    const completions = completedLines();
    const takeovers = logs.filter((line) => line['msg'] === 'took over a job whose lease lapsed');
    report('long job', { 'lease ms': 1500, 'job ms': Number(record['finished_at']) - Number(record['started_at']), attempts: state!.attempts, 'takeovers': takeovers.length });
    expect(state).toMatchObject({ status: 'completed', attempts: 1 });
    expect(record['stalls'] ?? '0').toBe('0');
    expect(Number(record['finished_at']) - Number(record['started_at'])).toBeGreaterThanOrEqual(4_500);
    expect(completions).toHaveLength(1);
    expect(takeovers).toHaveLength(0);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
});
