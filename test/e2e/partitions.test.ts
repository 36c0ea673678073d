import { QueueKeys } from '@conveyor/shared';
import { RedisCluster, startApi, startWorker, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apiJobs } from './api-jobs.js';

/**
 * Partitions of hot queues (QUEUE_PARTITIONS) on a real Redis Cluster of three primaries: the
 * API spreads jobs over `inference.0` … `inference.3`, whose hash tags live on different nodes,
 * and two workers serve them all. Every view of a queue (a job, its events, the queue's stats,
 * events and dead letters, pause) must cover all of its partitions.
 */
const TOKEN = 'partitions-admin-token-0123456789';
const prefix = 'conveyor';
const PARTITIONS = 4;
const admin = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const env = { REDIS_CLUSTER: 'true', QUEUE_PARTITIONS: `inference=${PARTITIONS},documents=2`, MAINTENANCE_INTERVAL: '200ms', REDIS_TIMEOUT: '2s' };
let cluster: RedisCluster;
let client: Cluster;
let api: ApiProcess;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  cluster = await RedisCluster.start(3);
  client = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]!.port }]);
  api = await startApi({ redisUrl: cluster.url, prefix, env: { ...env, ADMIN_TOKEN: TOKEN } });
  workers.push(...(await Promise.all([1, 2].map(() => startWorker({ redisUrl: cluster.url, prefix, env })))));
}, 60_000);

afterAll(async () => {
  await Promise.all([api?.stop(), ...workers.map((worker) => worker.stop())]);
  client?.disconnect();
  await cluster?.stop();
});

const { post, job, settled } = apiJobs(() => api.url);

const partitionOf = (id: string) => /^inference\.(\d+):/.exec(id)?.[1];

describe('a queue in partitions on a Redis Cluster', () => {
  test('jobs are spread over partitions on different nodes, each completes once, and its ID finds it', async () => {
    const nodes = await Promise.all(Array.from({ length: PARTITIONS }, (_, i) => cluster.nodeOf(new QueueKeys(prefix, `inference.${i}`).base)));
    expect(new Set(nodes.map((node) => node.port)).size).toBeGreaterThan(1);

    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const response = await post('/jobs', { model: 'echo', prompt: `single ${i}` });
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as { job_id: string }).job_id);
    }
    // One API process takes the partitions in turn.
    expect(ids.map(partitionOf).sort()).toEqual(['0', '0', '0', '1', '1', '1', '2', '2', '2', '3', '3', '3']);
    const batch = await post('/jobs/batch', { jobs: Array.from({ length: 40 }, (_, i) => ({ model: 'echo', prompt: `batch ${i}` })) });
    const batchIds = ((await batch.json()) as { jobs: { job_id: string }[] }).jobs.map((entry) => entry.job_id);
    // A batch without keys goes to one partition: all or none, in one script.
    expect(new Set(batchIds.map(partitionOf)).size).toBe(1);

    const records = await settled([...ids, ...batchIds]);
    for (const [i, record] of records.entries()) {
      expect(record).toMatchObject({ queue: 'inference', partition: Number(partitionOf(record['id'] as string)), attempts: 1, result: { text: i < 12 ? `single ${i}` : `batch ${i - 12}` } });
    }
    // Nothing was left in any partition's streams: every entry was acknowledged.
    for (let i = 0; i < PARTITIONS; i++) {
      const pending = (await client.xpending(new QueueKeys(prefix, `inference.${i}`).stream('infer', 'normal'), 'infer')) as [number];
      expect(pending[0]).toBe(0);
    }
  });

  test("the queue's statistics sum its partitions, each listed", async () => {
    const stats = (await (await fetch(`${api.url}/queues/inference`)).json()) as {
      queue: string;
      counts: { last_hour: { enqueued: number; completed: number } };
      stages: { name: string; lanes: { normal: { stream: string; entries_added: number } } }[];
      partitions: { queue: string; counts: { last_hour: { enqueued: number; completed: number } }; stages: { lanes: { normal: { entries_added: number } } }[] }[];
    };
    expect(stats.partitions.map((part) => part.queue)).toEqual(['inference', 'inference.0', 'inference.1', 'inference.2', 'inference.3']);
    const sum = (figure: (part: (typeof stats.partitions)[number]) => number) => stats.partitions.reduce((total, part) => total + figure(part), 0);
    expect(stats.queue).toBe('inference');
    expect(stats.counts.last_hour.enqueued).toBe(sum((part) => part.counts.last_hour.enqueued));
    expect(stats.counts.last_hour.completed).toBe(sum((part) => part.counts.last_hour.completed));
    expect(stats.counts.last_hour.enqueued).toBeGreaterThanOrEqual(52);
    expect(stats.stages[0]!.lanes.normal.entries_added).toBe(sum((part) => part.stages[0]!.lanes.normal.entries_added));
    expect(stats.stages[0]!.lanes.normal.stream).toBe(`${prefix}:{inference.*}:infer:normal`);

    const list = (await (await fetch(`${api.url}/queues`)).json()) as { queues: { queue: string; partitions?: unknown[] }[] };
    expect(list.queues.map((queue) => [queue.queue, queue.partitions?.length])).toEqual([
      ['inference', PARTITIONS + 1],
      ['documents', 3],
      ['document-summary', undefined],
    ]);
  });

  test("a job's events and the queue's events come from every partition", async () => {
    const queueEvents = await fetch(`${api.url}/events?queue=inference`, { signal: AbortSignal.timeout(15_000) });
    const reader = queueEvents.body!.getReader();
    const ids: string[] = [];
    for (let i = 0; i < PARTITIONS; i++) ids.push(((await (await post('/jobs', { model: 'echo', prompt: `watched ${i}` })).json()) as { job_id: string }).job_id);
    expect(new Set(ids.map(partitionOf)).size).toBe(PARTITIONS);
    // The queue's stream subscribed before it opened, so each job's completion is in it.
    const completed = new Set<string>();
    let text = '';
    while (!ids.every((id) => completed.has(id))) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      for (const line of text.split('\n').filter((each) => each.startsWith('data: {'))) {
        const event = JSON.parse(line.slice('data: '.length)) as { event: string; job_id: string };
        if (event.event === 'completed') completed.add(event.job_id);
      }
    }
    await reader.cancel();
    expect(ids.filter((id) => !completed.has(id))).toEqual([]);

    const { job_id: id } = (await (await post('/jobs', { model: 'echo', prompt: 'one to follow', params: { sleep_ms: 300 } })).json()) as { job_id: string };
    const events = await (await fetch(`${api.url}/jobs/${encodeURIComponent(id)}/events`, { signal: AbortSignal.timeout(15_000) })).text();
    expect(events).toContain('event: completed');
  });

  test('an idempotency key finds its job in its partition; a keyed batch over several partitions is stored once', async () => {
    const first = (await (await post('/jobs', { model: 'echo', prompt: 'keyed' }, { 'content-type': 'application/json', 'idempotency-key': 'part-key-1' })).json()) as { job_id: string };
    for (let i = 0; i < 3; i++) {
      const again = await post('/jobs', { model: 'echo', prompt: 'keyed' }, { 'content-type': 'application/json', 'idempotency-key': 'part-key-1' });
      expect(((await again.json()) as { job_id: string }).job_id).toBe(first.job_id);
    }
    // Another API process sends the key to the same partition: the hash is the same everywhere.
    const second = await startApi({ redisUrl: cluster.url, prefix, env });
    try {
      const elsewhere = await fetch(`${second.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'part-key-1' }, body: JSON.stringify({ model: 'echo', prompt: 'keyed' }) });
      expect(((await elsewhere.json()) as { job_id: string }).job_id).toBe(first.job_id);
    } finally {
      await second.stop();
    }
    const body = { jobs: Array.from({ length: 16 }, (_, i) => ({ model: 'echo', prompt: `keyed batch ${i}`, idempotency_key: `part-batch-${i}` })) };
    const stored = (await (await post('/jobs/batch', body)).json()) as { jobs: { job_id: string; created: boolean }[] };
    expect(new Set(stored.jobs.map((entry) => partitionOf(entry.job_id))).size).toBeGreaterThan(1);
    expect(stored.jobs.every((entry) => entry.created)).toBe(true);
    const again = (await (await post('/jobs/batch', body)).json()) as { jobs: { job_id: string; created: boolean }[] };
    expect(again.jobs).toEqual(stored.jobs.map((entry) => ({ ...entry, created: false, status: expect.any(String) })));
    await settled(stored.jobs.map((entry) => entry.job_id));
  });

  test('dead letters of every partition are listed page by page, each once, and retried together', async () => {
    const failUntil = new Date(Date.now() + 1_500).toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 2 * PARTITIONS; i++) {
      const response = await post('/jobs', { model: 'echo', prompt: `dies ${i}`, max_attempts: 1, params: { fail_until: failUntil } });
      ids.push(((await response.json()) as { job_id: string }).job_id);
    }
    await settled(ids, 'dead');
    const listed: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await fetch(`${api.url}/queues/inference/dead?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json()) as { jobs: { job_id: string }[]; next_cursor: string | null };
      listed.push(...page.jobs.map((entry) => entry.job_id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(listed.sort()).toEqual([...ids].sort());

    await new Promise((resolve) => setTimeout(resolve, Date.parse(failUntil) - Date.now()));
    const retried = (await (await post('/queues/inference/dead/retry', {})).json()) as { retried: number; remaining: number };
    expect(retried.retried).toBe(ids.length);
    await settled(ids);
  });

  test('pausing the queue pauses every partition; resuming lets all of them run', async () => {
    expect(((await (await post('/queues/inference/pause', {}, admin)).json()) as { paused: string[] }).paused).toEqual(['*']);
    // A pause reaches workers by a control message; let it land.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const ids: string[] = [];
    for (let i = 0; i < PARTITIONS; i++) ids.push(((await (await post('/jobs', { model: 'echo', prompt: `held ${i}` })).json()) as { job_id: string }).job_id);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await Promise.all(ids.map(job))).map((record) => record['status'])).toEqual(ids.map(() => 'queued'));
    expect((await post('/queues/inference/resume', {}, admin)).status).toBe(200);
    await settled(ids);
  });

  test("history and replay take a partition; an entry XADDed to the queue's own stream is still run", async () => {
    const ids: string[] = [];
    for (let i = 0; i < PARTITIONS; i++) ids.push(((await (await post('/jobs', { model: 'echo', prompt: `history ${i}` })).json()) as { job_id: string }).job_id);
    await settled(ids);
    const target = ids.find((id) => partitionOf(id) === '2')!;
    const history = (await (await fetch(`${api.url}/queues/inference/history?partition=2&limit=500`, { headers: admin })).json()) as { entries: { job_id: string; entry_id: string }[] };
    expect(history.entries.map((entry) => entry.job_id)).toContain(target);
    expect(history.entries.every((entry) => partitionOf(entry.job_id) === '2')).toBe(true);
    const wrong = await fetch(`${api.url}/queues/inference/history?partition=${PARTITIONS}`, { headers: admin });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { detail: string }).detail).toBe(`Queue "inference" has partitions 0 to ${PARTITIONS - 1}, not ${PARTITIONS}.`);

    const at = history.entries.find((entry) => entry.job_id === target)!.entry_id;
    const replay = (await (await post('/queues/inference/replay', { from: at, to: at, partition: 2 }, admin)).json()) as { replayed: { job_id: string; replay_of: string }[] };
    expect(replay.replayed).toEqual([{ job_id: expect.stringMatching(/^inference\.2:/), replay_of: target }]);
    await settled([replay.replayed[0]!.job_id]);

    // The seeds' producer: a plain XADD to the queue's own stream, as before it was partitioned.
    const entry = await client.xadd(new QueueKeys(prefix, 'inference').stream('infer', 'normal'), '*', 'model', 'echo', 'prompt', 'from redis-cli');
    const [record] = await settled([`inference:${entry}`]);
    expect(record).toMatchObject({ queue: 'inference', result: { text: 'from redis-cli' } });
    expect(record!['partition']).toBeUndefined();
  });
});

describe('admission control over partitions', () => {
  test('MAX_BACKLOG is shared over the partitions: each takes its share, then POST answers 503', async () => {
    const full = await startApi({ redisUrl: cluster.url, prefix: 'full', env: { ...env, MAX_BACKLOG: '8' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 9; i++) statuses.push((await fetch(`${full.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"x"}' })).status);
      expect(statuses).toEqual([202, 202, 202, 202, 202, 202, 202, 202, 503]);
    } finally {
      await full.stop();
    }
  });
});
