import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefixAt, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess } from '@conveyor/testing';
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
  await deletePrefixAt(inject('redisUrl'), prefix);
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
    // The stopped worker's word ended when it stopped; its lease stays named, for the jobs it released.
    const keys = new QueueKeys(prefix, 'inference');
    const [seconds, micros] = await redis.time();
    expect(Number(await redis.hget(keys.workers, 'stopped'))).toBeLessThanOrEqual(Number(seconds) * 1_000 + Number(micros) / 1_000);
    expect((await redis.hkeys(keys.leases)).sort()).toEqual(['killed', 'stopped']);
    redis.disconnect();
  } finally {
    killed.signal('SIGKILL');
    stopped.signal('SIGKILL');
  }
});

test('live workers stay in every group they serve, on lanes without work too: neither pruned as idle by each other, nor lost for good when Redis forgets them', { timeout: 30_000 }, async () => {
  const redisUrl = inject('redisUrl');
  // Consumers idle for 1 s are pruned, checked every 100 ms: a live worker's consumer on a lane
  // nobody sends to is idle that long within a second or two.
  const env = { MAINTENANCE_INTERVAL: '100ms', TRIM_INTERVAL: '100ms', CONSUMER_RETENTION: '1s', WORKER_STAGES: 'inference' };
  const workers = await Promise.all(['idle-a', 'idle-b'].map((name) => startWorker({ redisUrl, prefix, env: { ...env, CONSUMER_NAME: name } })));
  const redis = createRedis(redisUrl, { role: 'command', name: 'liveness-test' });
  const keys = new QueueKeys(prefix, 'inference');
  const lanes = ['high', 'normal', 'low'] as const;
  const laneConsumers = async () => {
    const stats = (await (await fetch(`${api.url}/queues/inference`)).json()) as { stages: (StageFigures & { lanes: Record<string, StageFigures> })[] };
    return lanes.map((lane) => stats.stages[0]!.lanes[lane]!.consumer_details.map(({ name, live }) => `${name}:${live}`).join(','));
  };
  try {
    await waitFor(async () => (await infer()).live_consumers === 2, 'both workers to be live');
    // Several retention periods with no job: the consumers of the workers gone before are
    // pruned, the live ones are not (each worker pruned the other's: 0 live consumers).
    await waitFor(async () => (await infer()).consumers === 2, 'the departed consumers to be pruned', 10_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await infer()).toMatchObject({ consumers: 2, live_consumers: 2 });
    expect(await laneConsumers()).toEqual(lanes.map(() => 'idle-a:true,idle-b:true'));
    expect(await (await fetch(`${api.url}/metrics`)).text()).toMatch(/^conveyor_stage_live_consumers\{queue="inference",stage="infer"\} 2$/m);

    // What a Redis restart from its AOF does to consumers never delivered anything (Redis 7.0
    // writes no record of them): they are gone while their workers run on.
    // In one transaction, so that no worker's tick (every 100 ms) puts one back between the
    // deletions and the look that shows them all gone.
    const forget = redis.multi();
    for (const lane of lanes) for (const name of ['idle-a', 'idle-b']) forget.xgroup('DELCONSUMER', keys.stream('infer', lane), 'infer', name);
    for (const lane of lanes) forget.xinfo('CONSUMERS', keys.stream('infer', lane), 'infer');
    const replies = (await forget.exec())!;
    expect(replies.slice(-lanes.length).map(([error, consumers]) => [error, consumers])).toEqual(lanes.map(() => [null, []]));
    await waitFor(async () => (await laneConsumers()).every((names) => names === 'idle-a:true,idle-b:true'), 'the workers to be back in every lane', 5_000, 50);
  } finally {
    redis.disconnect();
    for (const worker of workers) worker.signal('SIGKILL');
  }
});
