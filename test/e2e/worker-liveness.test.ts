import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess } from '@conveyor/testing';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';

/**
 * A stage's consumers stay in its group for CONSUMER_RETENTION after their worker is gone (an
 * hour by default), so `consumers` alone cannot say whether anybody reads the stage. Each worker
 * says, every maintenance tick, that it reads its queues; GET /queues reports the consumers whose
 * word still holds as `live_consumers`.
 */
const prefix = uniquePrefix('liveness');
let api: ApiProcess;

beforeAll(async () => {
  api = await startApi({ redisUrl: inject('redisUrl'), prefix });
});

afterAll(async () => {
  await api?.stop();
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

interface StageFigures {
  consumers: number;
  live_consumers: number;
  consumer_details: { name: string; live: boolean }[];
}

const infer = async (): Promise<StageFigures> => {
  const stats = (await (await fetch(`${api.url}/queues/inference`)).json()) as { stages: StageFigures[] };
  return stats.stages[0]!;
};

test('a worker that is killed drops out of live_consumers within ten maintenance ticks; one that stops, at once; both stay in consumers', { timeout: 30_000 }, async () => {
  const redisUrl = inject('redisUrl');
  // 100 ms ticks: a word holds 1 s.
  const env = { MAINTENANCE_INTERVAL: '100ms', WORKER_STAGES: 'inference' };
  const [killed, stopped] = await Promise.all([startWorker({ redisUrl, prefix, env: { ...env, CONSUMER_NAME: 'killed' } }), startWorker({ redisUrl, prefix, env: { ...env, CONSUMER_NAME: 'stopped' } })]);
  try {
    await waitFor(async () => (await infer()).live_consumers === 2, 'both workers to be live');
    expect(await (await fetch(`${api.url}/metrics`)).text()).toMatch(/^conveyor_stage_live_consumers\{queue="inference",stage="infer"\} 2$/m);
    expect((await infer()).consumer_details).toEqual([expect.objectContaining({ name: 'killed', live: true }), expect.objectContaining({ name: 'stopped', live: true })]);

    killed.signal('SIGKILL');
    await killed.exited;
    const killedAt = Date.now();
    await waitFor(async () => (await infer()).live_consumers === 1, 'the killed worker to drop out', 5_000, 50);
    expect(Date.now() - killedAt).toBeLessThan(2_500);

    await stopped.stop();
    const stage = await infer();
    expect(stage).toMatchObject({ consumers: 2, live_consumers: 0 });
    // The same for alerts: nobody reads the stage.
    expect(await (await fetch(`${api.url}/metrics`)).text()).toMatch(/^conveyor_stage_live_consumers\{queue="inference",stage="infer"\} 0$/m);
    expect(stage.consumer_details.map(({ name, live }) => [name, live])).toEqual([
      ['killed', false],
      ['stopped', false],
    ]);
    const redis = createRedis(redisUrl, { role: 'command', name: 'liveness-test' });
    expect(await redis.hkeys(new QueueKeys(prefix, 'inference').workers)).toEqual(['killed']);
    redis.disconnect();
  } finally {
    killed.signal('SIGKILL');
    stopped.signal('SIGKILL');
  }
});
