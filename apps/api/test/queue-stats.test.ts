import { completeStage, enqueueJobs, failAttempt, findPipeline, heartbeat, newJobId, PIPELINES, QueueKeys, takeJobs, type Lane, type NewJob } from '@conveyor/shared';
import { takeRequest, TEST_LIMITS } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import { testWithApp } from './test-app.js';

const test = testWithApp();

function take(redis: Redis, keys: QueueKeys, consumer: string, count: number, stage = 'infer', previousStage = '') {
  return takeJobs(redis, keys, takeRequest({ stage, previousStage, consumer, count })).then((taken) => taken.jobs);
}

function inferenceJob(lane: Lane = 'normal', extra: Partial<NewJob> = {}): NewJob {
  return { id: newJobId('inference'), lane, payload: JSON.stringify({ model: 'echo', prompt: 'hi' }), ...extra };
}

/** The counters are per minute of Redis's clock: start a workload early in a minute so it ends in the same one. */
async function startOfAMinute(redis: Redis): Promise<number> {
  const [seconds] = await redis.time();
  const intoMinute = Number(seconds) % 60;
  if (intoMinute >= 45) await sleep((61 - intoMinute) * 1_000);
  const [now] = await redis.time();
  return Math.floor(Number(now) / 60);
}

/** Adds 5 entries to a lane and XDELs the middle one, ahead of its group: Redis 7 then reports a null lag (4 entries wait). */
async function deleteAheadOfGroup(redis: Redis, stream: string): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await redis.xadd(stream, '*', 'model', 'echo', 'prompt', `p${i}`))!);
  await redis.xdel(stream, ids[2]!);
  const group = ((await redis.xinfo('GROUPS', stream)) as unknown[][])[0]!;
  expect(group[group.indexOf('lag') + 1]).toBeNull();
}

const error = (message: string) => ({ message, retryable: true, stage: 'infer', attempt: 1, at: Date.now() });
const zeroCounts = { enqueued: 0, completed: 0, failed: 0, retried: 0, dead: 0, cancelled: 0 };

describe('GET /queues/:name', () => {
  test('reports a known workload exactly: waiting, pending per consumer, delayed, dead, paused, and event counts', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const minute = await startOfAMinute(redis);
    // Counters of earlier minutes: one inside the hour window, one just outside it.
    await redis.hset(`${keys.base}stats:${minute - 59}`, 'completed:infer', 7, 'failed:infer', 2);
    await redis.hset(`${keys.base}stats:${minute - 60}`, 'completed:infer', 100);

    const queued = Array.from({ length: 66 }, () => inferenceJob());
    expect((await enqueueJobs(redis, keys, 'infer', queued, TEST_LIMITS)).ok).toBe(true);
    expect((await enqueueJobs(redis, keys, 'infer', [inferenceJob('normal', { runAt: Date.now() + 3_600_000 })], TEST_LIMITS)).ok).toBe(true);

    // w1: three completed, one failed and retrying later (delayed), one failed for good (dead).
    const first = await take(redis, keys, 'w1', 5);
    for (const held of first.slice(0, 3)) expect(await completeStage(redis, keys, held, '{}', '', 60)).toBe('completed');
    expect(await failAttempt(redis, keys, first[3]!, error('later'), 60_000, 3, 60)).toBe('retrying');
    expect(await failAttempt(redis, keys, first[4]!, error('never'), undefined, 3, 60)).toBe('dead');
    // Ten held by three consumers (w3's sixth is cancelled while active), fifty left waiting.
    const held = [...(await take(redis, keys, 'w1', 2)), ...(await take(redis, keys, 'w2', 3)), ...(await take(redis, keys, 'w3', 6))];
    expect((await app.inject({ method: 'DELETE', url: `/jobs/${held.at(-1)!.jobId}` })).statusCode).toBe(200);
    await redis.hset(keys.paused, 'infer', Date.now());
    // w1's worker says it reads the queue; w2's word has run out (it died); w3's never came.
    await heartbeat(redis, keys, 'w1', 10_000, 3_600_000, false, 30_000);
    await heartbeat(redis, keys, 'w2', -1, 3_600_000, false, 30_000);

    const response = await app.inject({ url: '/queues/inference' });
    expect(response.statusCode).toBe(200);
    const stats = response.json();
    const lastMinute = { ...zeroCounts, since: new Date(minute * 60_000).toISOString(), enqueued: 67, completed: 3, failed: 2, retried: 1, dead: 1, cancelled: 1 };
    const lastHour = { ...lastMinute, since: new Date((minute - 59) * 60_000).toISOString(), completed: 10, failed: 4 };
    expect(stats).toMatchObject({ queue: 'inference', input: 'json', paused: ['infer'], delayed: 2, dead: 1, counts: { last_minute: lastMinute, last_hour: lastHour } });
    expect(stats.stages).toHaveLength(1);
    const [stage] = stats.stages;
    const consumers = [
      { name: 'w1', pending: 2, idle_ms: expect.any(Number), live: true },
      { name: 'w2', pending: 3, idle_ms: expect.any(Number), live: false },
      { name: 'w3', pending: 5, idle_ms: expect.any(Number), live: false },
    ];
    expect(stage).toMatchObject({
      name: 'infer',
      paused: true,
      total_tasks: 66,
      waiting_tasks: 50,
      pending_tasks: 10,
      consumers: 3,
      live_consumers: 1,
      consumer_details: consumers,
      oldest_pending: { entry_id: held[0]!.entryId, consumer: 'w1', deliveries: 1 },
      counts: { last_minute: lastMinute, last_hour: lastHour },
    });
    expect(stage.lanes.normal).toMatchObject({
      stream: keys.stream('infer', 'normal'),
      total_tasks: 66,
      waiting_tasks: 50,
      pending_tasks: 10,
      consumers: 3,
      live_consumers: 1,
      consumer_details: consumers,
      entries_added: 66,
      first_entry_id: expect.stringMatching(/^\d+-\d+$/),
      last_delivered_id: held.at(-1)!.entryId,
    });
    expect(stage.lanes.high).toMatchObject({ total_tasks: 0, waiting_tasks: 0, pending_tasks: 0, oldest_pending: null, first_entry_id: null });
  });

  test('a multi-stage queue reports each stage, and counts as completed only jobs that finished its last stage', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'documents');
    const [first, second, ...later] = findPipeline('documents')!.stages;
    await startOfAMinute(redis);
    const doc = (lane: Lane): NewJob => ({ id: newJobId('documents'), lane, payload: '{}', document: Buffer.from('text') });
    await enqueueJobs(redis, keys, first!, [doc('high'), doc('low')], TEST_LIMITS);
    const [extracting] = await take(redis, keys, 'x1', 1, first!);
    expect(await completeStage(redis, keys, extracting!, '{"text":"text"}', second!, 60)).toBe('advanced');
    await redis.hset(keys.paused, '*', Date.now());

    const stats = (await app.inject({ url: '/queues/documents' })).json();
    expect(stats).toMatchObject({ paused: ['*'], counts: { last_minute: { enqueued: 2, completed: 0 } } });
    expect(stats.stages.map((stage: { name: string }) => stage.name)).toEqual([first, second, ...later]);
    const [extract, next] = stats.stages;
    expect(extract).toMatchObject({ name: first, paused: true, total_tasks: 2, waiting_tasks: 1, pending_tasks: 0, consumers: 1, counts: { last_minute: { enqueued: 2, completed: 1 } } });
    expect(extract.lanes).toMatchObject({ high: { total_tasks: 1, waiting_tasks: 0 }, low: { total_tasks: 1, waiting_tasks: 1 } });
    expect(next).toMatchObject({ name: second, paused: true, total_tasks: 1, waiting_tasks: 1, pending_tasks: 0, consumers: 0, counts: { last_minute: { completed: 0 } } });
    expect(next.lanes.high).toMatchObject({ total_tasks: 1, waiting_tasks: 1 });
  });

  test('when Redis cannot tell a lag (an entry deleted ahead of the group), the waiting entries are counted', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'low');
    await deleteAheadOfGroup(redis, stream);

    const low = (await app.inject({ url: '/queues/inference' })).json().stages[0].lanes.low;
    expect(low).toMatchObject({ total_tasks: 4, waiting_tasks: 4, pending_tasks: 0 });
  });

  test('when Redis cannot tell a lag, the count reads at most about 4 MiB of large entries and says null past it (it read up to 1,001 whole entries per lane)', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'low');
    await deleteAheadOfGroup(redis, stream);
    const prompt = 'v'.repeat(300_000);
    for (let i = 0; i < 30; i++) await redis.xadd(stream, '*', 'model', 'echo', 'prompt', prompt);
    const low = (await app.inject({ url: '/queues/inference' })).json().stages[0].lanes.low;
    expect(low).toMatchObject({ total_tasks: 34, waiting_tasks: null });
    // The metric stands in the stream length, as past the count's bound.
    expect((await app.inject({ url: '/metrics' })).body).toMatch(/^conveyor_stage_waiting\{queue="inference",stage="infer"\} 34$/m);
  });

  test("/metrics keeps a queue's last gauges and says it could not read them while one of its keys holds another program's value (it showed the queue empty)", async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const scrape = async () => (await app.inject({ url: '/metrics' })).body;
    const delayedGauge = /^conveyor_queue_delayed\{queue="inference"\} (\d+)$/m;
    const job = (): NewJob => ({ ...inferenceJob(), runAt: Date.now() + 120_000 });
    await enqueueJobs(redis, keys, 'infer', [job(), job()], TEST_LIMITS);
    const before = await scrape();
    expect(delayedGauge.exec(before)?.[1]).toBe('2');
    expect(before).toMatch(/^conveyor_backlog_readable 1$/m);

    await redis.rename(keys.delayed, `${keys.delayed}:kept`);
    await redis.set(keys.delayed, 'another program');
    try {
      expect((await app.inject({ url: '/queues/inference' })).json()).toMatchObject({ type: '/problems/redis-key-conflict' });
      const during = await scrape();
      expect(delayedGauge.exec(during)?.[1]).toBe('2');
      expect(during).toMatch(/^conveyor_backlog_readable 0$/m);
    } finally {
      await redis.del(keys.delayed);
      await redis.rename(`${keys.delayed}:kept`, keys.delayed);
    }
    expect(await scrape()).toMatch(/^conveyor_backlog_readable 1$/m);
  });

  test('/metrics counts the waiting entries too when Redis cannot tell a lag, and stands in the stream length past the count bound', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const waitingOf = async () => {
      const text = (await app.inject({ url: '/metrics' })).body;
      return Number(/^conveyor_stage_waiting\{queue="inference",stage="infer"\} (\d+)$/m.exec(text)?.[1]);
    };
    await enqueueJobs(redis, keys, 'infer', [inferenceJob('high'), inferenceJob('high')], TEST_LIMITS);
    const low = keys.stream('infer', 'low');
    await deleteAheadOfGroup(redis, low);
    expect(await waitingOf()).toBe(2 + 4);

    const more = redis.pipeline();
    for (let i = 0; i < 1_000; i++) more.xadd(low, '*', 'model', 'echo', 'prompt', `q${i}`);
    await more.exec();
    expect(await waitingOf()).toBe(2 + 1_004);
  });

  test('an unknown queue is a 404 problem', async ({ app }) => {
    const response = await app.inject({ url: '/queues/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(response.json()).toMatchObject({ type: '/problems/queue-not-found', detail: expect.stringContaining(PIPELINES.map((pipeline) => pipeline.name).join(', ')) });
  });
});

describe('GET /queues', () => {
  test('lists every queue with its stages, each as GET /queues/:name shows it', async ({ app, redis, prefix }) => {
    await enqueueJobs(redis, new QueueKeys(prefix, 'inference'), 'infer', [inferenceJob('high'), inferenceJob('low')], TEST_LIMITS);
    const response = await app.inject({ url: '/queues' });
    expect(response.statusCode).toBe(200);
    const { queues } = response.json();
    expect(queues.map((queue: { queue: string; stages: { name: string }[] }) => [queue.queue, queue.stages.map((stage) => stage.name)])).toEqual(
      PIPELINES.map((pipeline) => [pipeline.name, [...pipeline.stages]]),
    );
    expect(queues[0]).toMatchObject({ delayed: 0, dead: 0, paused: [], stages: [{ total_tasks: 2, waiting_tasks: 2, pending_tasks: 0, consumers: 0, oldest_pending: null }] });
    expect(queues[1].stages[0]).toMatchObject({ total_tasks: 0, waiting_tasks: 0 });
  });
});
