import { completeStage, QueueKeys, takeJobs } from '@conveyor/shared';
import { redisTest, takeRequest } from '@conveyor/testing';
import { expect } from 'vitest';
import type { App } from '../src/app.js';
import { buildTestApp } from './test-app.js';

const test = redisTest.extend<{ app: App }>({
  app: async ({ redisUrl, prefix }, use) => {
    const app = await buildTestApp(redisUrl, prefix);
    await use(app);
    await app.close();
  },
});

const take = (stage: string, previousStage: string) => takeRequest({ stage, previousStage, consumer: 'w', count: 1 });

test('a large stage output is shown as a preview, and its whole output is one GET away', async ({ app, redis, prefix }) => {
  const upload = await app.inject({
    method: 'POST',
    url: '/documents',
    headers: { 'content-type': 'multipart/form-data; boundary=b' },
    payload: '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n',
  });
  const { job_id } = upload.json();
  const keys = new QueueKeys(prefix, 'documents');
  const longText = 'word '.repeat(20_000);
  const extractOutput = JSON.stringify({ text: longText, words: Array.from({ length: 300 }, (_, i) => i) });
  const [extracting] = (await takeJobs(redis, keys, take('extract', ''))).jobs;
  await completeStage(redis, keys, extracting!, extractOutput, 'analyze', 60);

  const pending = await app.inject({ url: `/jobs/${job_id}/stages/analyze/output` });
  expect(pending.statusCode).toBe(404);
  expect(pending.json()).toMatchObject({ type: '/problems/output-not-found', detail: expect.stringContaining('no output yet') });

  const job = (await app.inject({ url: `/jobs/${job_id}` })).json();
  const extract = job.stages[0];
  expect(extract).toMatchObject({ name: 'extract', status: 'completed', output_truncated: true, output_url: `/jobs/${job_id}/stages/extract/output` });
  expect(extract.output.text).toMatch(/^word word .*… \(99500 more characters\)$/);
  expect(extract.output.words).toHaveLength(101);
  expect(JSON.stringify(job).length).toBeLessThan(10_000);

  const whole = await app.inject({ url: extract.output_url });
  expect(whole.statusCode).toBe(200);
  expect(whole.headers['content-type']).toMatch(/^application\/json/);
  expect(whole.body).toBe(extractOutput);

  expect((await app.inject({ url: `/jobs/${job_id}/stages/ocr/output` })).json()).toMatchObject({ status: 404, detail: expect.stringContaining('no stage "ocr"') });
  expect((await app.inject({ url: '/jobs/documents:01JDQ8K3V7X9ABCDEFGHJKMNPQ/stages/extract/output' })).json()).toMatchObject({ type: '/problems/job-not-found' });
});
