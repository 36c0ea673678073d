import { createLogger, enqueueJobs, ensureGroups, loadConfig, newJobId, PIPELINES, QueueKeys, workerEnvSchema, type NewJob } from '@conveyor/shared';
import { jobStatus, RedisServer, redisTest, waitFor } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { Worker } from '../src/worker.js';
import { FakeOpenAiServer, openAiError } from './models/fake-openai-server.js';

const test = redisTest.extend<{ startWorker: (env?: Record<string, string>) => Promise<Worker> }>({
  startWorker: async ({ redisUrl, prefix }, use) => {
    const started: Worker[] = [];
    await use(async (env = {}) => {
      const config = loadConfig(workerEnvSchema, { REDIS_URL: redisUrl, KEY_PREFIX: prefix, WORKER_PORT: '-1', BLOCK_MS: '1s', ...env });
      const worker = new Worker(config, createLogger('worker', 'silent'));
      await worker.start();
      started.push(worker);
      return worker;
    });
    await Promise.all(started.map((worker) => worker.stop(5_000)));
  },
});

function echo(params: Record<string, unknown> = {}, extra: Partial<NewJob> = {}): NewJob {
  return { id: newJobId('inference'), lane: 'normal', payload: JSON.stringify({ model: 'echo', prompt: 'hi', params }), ...extra };
}

async function submit(redis: Redis, prefix: string, jobs: NewJob[]) {
  const outcome = await enqueueJobs(redis, new QueueKeys(prefix, 'inference'), 'infer', jobs, { idempotencyTtlSeconds: 60, maxBacklog: 0 });
  expect(outcome.ok).toBe(true);
}

async function recordOf(redis: Redis, prefix: string, jobId: string) {
  return redis.hgetall(new QueueKeys(prefix, 'inference').job(jobId));
}

async function settled(redis: Redis, prefix: string, jobs: NewJob[], statuses = ['completed', 'dead'], timeoutMs = 20_000) {
  return waitFor(
    async () => {
      const records = await Promise.all(jobs.map((job) => recordOf(redis, prefix, job.id)));
      return records.every((record) => statuses.includes(record['status'] ?? '')) ? records : undefined;
    },
    `${jobs.length} jobs to settle`,
    timeoutMs,
  );
}

describe('the worker', () => {
  test('runs jobs and never holds more than CONCURRENCY at once', async ({ redis, prefix, startWorker }) => {
    const jobs = Array.from({ length: 15 }, () => echo({ sleep_ms: 100 }));
    await submit(redis, prefix, jobs);
    const worker = await startWorker({ CONCURRENCY: '3' });
    const records = await settled(redis, prefix, jobs);
    expect(records.every((record) => record['status'] === 'completed' && record['attempts'] === '1' && record['worker'] === worker.consumer)).toBe(true);
    const spans = records.map((record) => [Number(record['started_at']), Number(record['finished_at'])] as const);
    const mostAtOnce = Math.max(...spans.map(([start]) => spans.filter(([s, f]) => s <= start && start < f).length));
    expect(mostAtOnce).toBe(3);
  });

  test('a failing attempt is retried after its backoff and the job then completes', async ({ redis, prefix, startWorker }) => {
    const flaky = echo({ fail: 1 }, { options: { backoff: { type: 'fixed', delay_ms: 200, max_delay_ms: 200 } } });
    await submit(redis, prefix, [flaky]);
    await startWorker();
    const [record] = await settled(redis, prefix, [flaky]);
    expect(record).toMatchObject({ status: 'completed', attempts: '2' });
    expect(JSON.parse(record!['errors']!)).toMatchObject([{ attempt: 1, retryable: true, code: 'PROCESSOR_ERROR', message: expect.stringContaining('asked to fail') }]);
  });

  test("a model endpoint's Retry-After delays the retry past the job's backoff, up to its max_delay_ms", async ({ redis, prefix, startWorker }) => {
    const endpoint = await FakeOpenAiServer.start({ models: ['chat-a'] });
    try {
      const busy = () => endpoint.answerNext({ status: 429, body: openAiError('slow down', 'rate_limit_error', null), headers: { 'retry-after': '1' } });
      const chat = (maxDelayMs: number): NewJob => ({
        id: newJobId('inference'),
        lane: 'normal',
        payload: JSON.stringify({ model: 'chat-a', prompt: 'hi' }),
        options: { backoff: { type: 'fixed', delay_ms: 20, max_delay_ms: maxDelayMs } },
      });
      await startWorker({ OPENAI_BASE_URL: endpoint.baseUrl, OPENAI_CHAT_MODELS: 'chat-a' });
      for (const [maxDelayMs, atLeast, under] of [[5_000, 1_000, 3_000], [100, 0, 900]] as const) {
        busy();
        const job = chat(maxDelayMs);
        await submit(redis, prefix, [job]);
        const [record] = await settled(redis, prefix, [job]);
        expect(record).toMatchObject({ status: 'completed', attempts: '2' });
        const [failure] = JSON.parse(record!['errors']!) as { at: number; message: string; retryable: boolean }[];
        expect(failure).toMatchObject({ retryable: true, code: 'MODEL_RATE_LIMITED', message: expect.stringContaining('answered 429: slow down (Retry-After: 1 s)') });
        const waited = Number(record!['started_at']) - failure!.at;
        expect(waited).toBeGreaterThanOrEqual(atLeast);
        expect(waited).toBeLessThan(under);
      }
    } finally {
      await endpoint.close();
    }
  });

  test('a job that cannot succeed is dead-lettered at once with the reason', async ({ redis, prefix, startWorker }) => {
    const invalid = { id: newJobId('inference'), lane: 'normal' as const, payload: JSON.stringify({ prompt: 'no model' }) };
    const badParams = echo({ sleep_ms: 'soon' });
    await submit(redis, prefix, [invalid, badParams]);
    await startWorker();
    const [first, second] = await settled(redis, prefix, [invalid, badParams]);
    expect(first).toMatchObject({ status: 'dead', attempts: '1' });
    expect(JSON.parse(first!['error']!)).toMatchObject({ code: 'INVALID_PAYLOAD', retryable: false, message: expect.stringContaining('model') });
    expect(JSON.parse(second!['error']!)).toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('sleep_ms') });
  });

  test('params nested 5,000 levels deep (queued by another producer: the API refuses past 64) are dead-lettered INVALID_PARAMS in one attempt', async ({ redis, prefix, startWorker }) => {
    const deep = { id: newJobId('inference'), lane: 'normal' as const, payload: `{"model":"echo","prompt":"x","params":{"a":${'['.repeat(5_000)}${']'.repeat(5_000)}}}` };
    await submit(redis, prefix, [deep]);
    await startWorker();
    const [record] = await settled(redis, prefix, [deep]);
    expect(record).toMatchObject({ status: 'dead', attempts: '1' });
    expect(JSON.parse(record!['error']!)).toMatchObject({ code: 'INVALID_PARAMS', retryable: false, message: expect.stringContaining('at most 64 levels deep') });
  });

  test('an attempt over its timeout fails, and the processor sees its signal fire', async ({ redis, prefix, startWorker }) => {
    const slow = echo({ sleep_ms: 5_000 }, { options: { timeout_ms: 200, max_attempts: 1 } });
    await submit(redis, prefix, [slow]);
    await startWorker();
    const [record] = await settled(redis, prefix, [slow]);
    expect(record).toMatchObject({ status: 'dead' });
    expect(JSON.parse(record!['error']!)).toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('timeout of 200 ms') });
    expect(Number(record!['finished_at']) - Number(record!['started_at'])).toBeLessThan(2_000);
  });

  test('keeps running through a Redis restart and takes jobs again when Redis is back', async () => {
    const server = await RedisServer.start({ appendfsync: 'always' });
    const prefix = 'restart';
    const config = loadConfig(workerEnvSchema, { REDIS_URL: server.url, KEY_PREFIX: prefix, WORKER_PORT: '-1', BLOCK_MS: '1s' });
    const worker = new Worker(config, createLogger('worker', 'silent'));
    const { createRedis } = await import('@conveyor/shared');
    const redis = createRedis(server.url, { role: 'command', name: 'test' });
    try {
      await ensureGroups(redis, prefix, PIPELINES);
      await worker.start();
      const before = echo();
      await submit(redis, prefix, [before]);
      await settled(redis, prefix, [before]);

      await server.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(worker.state).toBe('running');
      await server.restart();

      const after = echo();
      await submit(redis, prefix, [after]);
      const [record] = await settled(redis, prefix, [after], ['completed'], 20_000);
      expect(record).toMatchObject({ status: 'completed', worker: worker.consumer });
    } finally {
      await worker.stop(2_000);
      redis.disconnect();
      await server.stop();
    }
  });
});

describe('cancelling an active job', () => {
  test("fires the processor's AbortSignal at once, frees the slot, and the job ends cancelled", async ({ redis, prefix, startWorker }) => {
    const { cancelJob, controlChannel } = await import('@conveyor/shared');
    const slow = echo({ sleep_ms: 30_000 });
    await submit(redis, prefix, [slow]);
    const worker = await startWorker({ CONCURRENCY: '1' });
    await waitFor(async () => (await jobStatus(redis, prefix, slow.id)) === 'active', 'the job to start');
    const keys = new QueueKeys(prefix, 'inference');
    const outcome = await cancelJob(redis, keys, slow.id, 'infer', 60, controlChannel(prefix));
    expect(outcome).toEqual({ ok: true, previousStatus: 'active' });
    await waitFor(() => worker.ctx.slots.used === 0, 'the slot to be freed', 2_000);
    expect(await recordOf(redis, prefix, slow.id)).toMatchObject({ status: 'cancelled' });
    const next = echo();
    await submit(redis, prefix, [next]);
    await settled(redis, prefix, [next]);
  });
});
