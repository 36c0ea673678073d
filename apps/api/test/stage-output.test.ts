import { completeStage, QueueKeys, takeJobs } from '@conveyor/shared';
import { RedisServer, takeRequest, waitFor } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test as plainTest } from 'vitest';
import type { App } from '../src/app.js';
import { json } from '../src/services/job-view.js';
import { LONGEST_READ_WHOLE, previewOutput } from '../src/services/output-preview.js';
import { testWithApp } from './test-app.js';

// A Redis of its own: two tests measure what Redis sends (INFO's byte count, MONITOR), which the
// test files that run beside this one on the shared Redis would swell.
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(() => server.stop());
const test = testWithApp().extend({ redisUrl: async ({}, use) => use(server.url) });

const take = (stage: string, previousStage: string) => takeRequest({ stage, previousStage, consumer: 'w', count: 1 });

/** Uploads a document and completes its extract stage with `extractOutput`, as a worker would; its job ID. */
async function documentExtractedAs(app: App, redis: Redis, prefix: string, extractOutput: string): Promise<string> {
  const upload = await app.inject({
    method: 'POST',
    url: '/documents',
    headers: { 'content-type': 'multipart/form-data; boundary=b' },
    payload: '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n',
  });
  const keys = new QueueKeys(prefix, 'documents');
  const [extracting] = (await takeJobs(redis, keys, take('extract', ''))).jobs;
  await completeStage(redis, keys, extracting!, extractOutput, 'analyze', 60);
  return (upload.json() as { job_id: string }).job_id;
}

test('a large stage output is shown as a preview, and its whole output is one GET away', async ({ app, redis, prefix }) => {
  const longText = 'word '.repeat(10_000);
  const extractOutput = JSON.stringify({ text: longText, words: Array.from({ length: 300 }, (_, i) => i) });
  const job_id = await documentExtractedAs(app, redis, prefix, extractOutput);

  const pending = await app.inject({ url: `/jobs/${job_id}/stages/analyze/output` });
  expect(pending.statusCode).toBe(404);
  expect(pending.json()).toMatchObject({ type: '/problems/output-not-found', detail: expect.stringContaining('no output yet') });

  const job = (await app.inject({ url: `/jobs/${job_id}` })).json();
  const extract = job.stages[0];
  expect(extract).toMatchObject({ name: 'extract', status: 'completed', output_truncated: true, output_url: `/jobs/${job_id}/stages/extract/output` });
  expect(extract.output.text).toMatch(/^word word .*… \(49500 more characters\)$/);
  expect(extract.output.words).toHaveLength(101);
  expect(JSON.stringify(job).length).toBeLessThan(10_000);

  const whole = await app.inject({ url: extract.output_url });
  expect(whole.statusCode).toBe(200);
  expect(whole.headers['content-type']).toMatch(/^application\/json/);
  expect(whole.body).toBe(extractOutput);

  expect((await app.inject({ url: `/jobs/${job_id}/stages/ocr/output` })).json()).toMatchObject({ status: 404, detail: expect.stringContaining('no stage "ocr"') });
  expect((await app.inject({ url: '/jobs/documents:01JDQ8K3V7X9ABCDEFGHJKMNPQ/stages/extract/output' })).json()).toMatchObject({ type: '/problems/job-not-found' });
});

test('an output too long to read whole is previewed from its beginning: Redis sends that, not the whole output', async ({ app, redis, prefix, redisUrl }) => {
  expect(redisUrl).toBe(server.url);
  // As the extract stage writes it: the figures first, then the whole text (here 8 MB).
  const text = 'Long documents are read in pieces. '.repeat(240_000);
  const extractOutput = JSON.stringify({ detected_type: 'text/plain', text_length: text.length, word_count: 6 * 240_000, text });
  const job_id = await documentExtractedAs(app, redis, prefix, extractOutput);

  const sent = async () => Number(/total_net_output_bytes:(\d+)/.exec(await redis.info('stats'))![1]);
  const before = await sent();
  const job = (await app.inject({ url: `/jobs/${job_id}` })).json();
  // Redis sent the poll about LONGEST_READ_WHOLE bytes of the text (and this INFO reply), not 8 MB.
  expect((await sent()) - before).toBeLessThan(LONGEST_READ_WHOLE + 20_000);
  expect(job.stages[0]).toMatchObject({
    name: 'extract',
    status: 'completed',
    output_truncated: true,
    output_url: `/jobs/${job_id}/stages/extract/output`,
    output: { detected_type: 'text/plain', text_length: text.length, word_count: 1_440_000, text: expect.stringMatching(/^Long documents are read in pieces\. .*… \(cut here: the whole output is at output_url\)$/) },
  });
  expect(job.stages[0].output.text.length).toBeLessThan(600);
  expect((await app.inject({ url: job.stages[0].output_url })).body).toBe(extractOutput);
});

test('a poll of a job with a long output reads the head Redis keeps of it, never the whole output', async ({ app, redis, prefix }) => {
  // Cutting the output itself meant copying all of it into Lua on every poll: ~190 ms of Redis,
  // every other client waiting, for a 20 MB text (a 0.25 MB DOCX can unpack to 64 MB of text).
  const text = 'Heads are kept of long outputs. '.repeat(100_000);
  const extractOutput = JSON.stringify({ detected_type: 'text/plain', text_length: text.length, text });
  const job_id = await documentExtractedAs(app, redis, prefix, extractOutput);
  const record = new QueueKeys(prefix, 'documents').job(job_id);
  expect(await redis.hget(record, 'head:out:extract')).toBe(extractOutput.slice(0, 65_536));

  const monitor = await redis.monitor();
  const seen: string[] = [];
  monitor.on('monitor', (_time: string, args: string[]) => seen.push(args.join(' ')));
  const job = (await app.inject({ url: `/jobs/${job_id}` })).json();
  const marker = `poll-done-${job_id}`;
  await redis.echo(marker);
  await waitFor(() => seen.some((command) => command.includes(marker)), 'MONITOR to show the poll');
  await monitor.disconnect();

  // The fields of the record that were read with HGET.
  const reads = seen.map((command) => command.split(' ')).filter(([name, key]) => name!.toLowerCase() === 'hget' && key === record).map(([, , field]) => field);
  expect(reads).toEqual(['head:out:extract']);
  expect(job.stages[0]).toMatchObject({ output_truncated: true, output: { text_length: text.length, text: expect.stringMatching(/^Heads are kept of long outputs\. .*… \(cut here: the whole output is at output_url\)$/) } });
  expect(job).not.toHaveProperty('head:out:extract');
});

plainTest('a preview made from any beginning of an output is JSON and keeps every member read whole', () => {
  const output = JSON.stringify({ model: 'm', scores: [1, -2.5e3, true, null, 'a"b\\c\u00e9\ud83d\ude00'], nested: { list: [[1, 2], { deep: 'x'.repeat(600) }], n: 12345 }, many: Array.from({ length: 150 }, (_, i) => i), text: 'é'.repeat(700) });
  for (let end = 0; end <= output.length; end++) {
    const { output: preview, truncated } = previewOutput(output.slice(0, end), json, output.length);
    expect(truncated).toBe(true);
    expect(() => JSON.stringify(preview)).not.toThrow();
    if (end > output.indexOf(',"nested"')) expect(preview).toMatchObject({ model: 'm', scores: [1, -2500, true, null, 'a"b\\cé😀'] });
  }
  const whole = previewOutput(output, json, output.length).output as Record<string, unknown>;
  expect(whole['many']).toHaveLength(101);
  expect(whole['many']).toContain('… (50 more items)');
  expect((whole['nested'] as { list: unknown[] }).list[1]).toEqual({ deep: `${'x'.repeat(500)}… (100 more characters)` });
  expect(previewOutput('{"model":"m","text":"abc\\', json, 1_000).output).toEqual({ model: 'm', text: 'abc… (cut here: the whole output is at output_url)' });
  expect(previewOutput('{"model":"m","n":12', json, 1_000).output).toEqual({ model: 'm' });
  expect(previewOutput('[1,2,"x', json, 1_000).output).toEqual([1, 2, 'x… (cut here: the whole output is at output_url)']);
  expect(previewOutput('[1,2,', json, 1_000).output).toEqual([1, 2, '… (cut here: the whole output is at output_url)']);
});
