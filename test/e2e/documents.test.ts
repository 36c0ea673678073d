import { createRedis } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';

const prefix = uniquePrefix('e2e-docs');
let api: ApiProcess;
let worker: WorkerProcess;

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix }), startWorker({ redisUrl, prefix })]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const report = `Quarterly report on the ingestion service.
The ingestion service accepted every document upload within a few milliseconds.
Workers processed each document through the extraction and summary stages.
The cafeteria menu changed twice this quarter.
A crash of one worker did not lose any document, because pending entries stay in the stream until a worker acknowledges them.
Parking remains limited.
Adding workers raised document throughput in step with their number.`;

test('an uploaded document is stored, processed by a worker, and its job shows the text size, word count and an extractive summary', async () => {
  const body = new FormData();
  body.append('file', new Blob([report], { type: 'text/plain' }), 'report.txt');
  const posted = await fetch(`${api.url}/documents`, { method: 'POST', body });
  expect(posted.status).toBe(202);
  const { job_id } = (await posted.json()) as { job_id: string };

  const job = await waitFor(async () => {
    const current = (await (await fetch(`${api.url}/jobs/${job_id}`)).json()) as Record<string, unknown>;
    return current['status'] === 'completed' || current['status'] === 'dead' ? current : undefined;
  }, 'the document job to finish');
  expect(job['status']).toBe('completed');
  const result = job['result'] as { text_length: number; word_count: number; summary: string; sentences: string[] };
  expect(result.text_length).toBe(report.length);
  expect(result.word_count).toBe(report.split(/\s+/).length);
  expect(result.sentences).toHaveLength(3);
  for (const sentence of result.sentences) expect(report).toContain(sentence);
  expect(result.summary).not.toMatch(/cafeteria|Parking/);
  expect(job['stages']).toMatchObject([
    { name: 'extract', status: 'completed', attempts: 1 },
    { name: 'summarize', status: 'completed', attempts: 1 },
  ]);
});

test('a document that is not text fails without retries and says why', async () => {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array([0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0xfe])]), 'scan.bin');
  const { job_id } = (await (await fetch(`${api.url}/documents`, { method: 'POST', body })).json()) as { job_id: string };
  const job = await waitFor(async () => {
    const current = (await (await fetch(`${api.url}/jobs/${job_id}`)).json()) as Record<string, unknown>;
    return current['status'] === 'dead' ? current : undefined;
  }, 'the job to be dead-lettered');
  expect(job).toMatchObject({ attempts: 1, error: { code: 'UNSUPPORTED_DOCUMENT', retryable: false } });
});
