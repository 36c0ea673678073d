import { createRedis } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { buildDocx, buildPdf, fixture } from '../../apps/worker/test/documents/build-documents.js';
import { CAKE_RECIPE, GERMAN_TEXT, QUEUE_ARTICLE, QUEUE_ARTICLE_REWORDED } from '../../apps/worker/test/documents/texts.js';

const prefix = uniquePrefix('e2e-docs');
let api: ApiProcess;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  [api] = await Promise.all([startApi({ redisUrl, prefix })]);
  workers.push(await startWorker({ redisUrl, prefix }));
});

afterAll(async () => {
  await Promise.all([api?.stop(), ...workers.map((worker) => worker.stop())]);
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

interface Job {
  id: string;
  status: string;
  stage: string;
  result: Record<string, unknown>;
  error: { code?: string; retryable?: boolean } | null;
  attempts: number;
  finished_at: string | null;
  stages: { name: string; status: string; attempts: number; worker: string | null; finished_at: string | null; output: Record<string, unknown> }[];
}

async function upload(bytes: Buffer | string, filename: string, fields: Record<string, string> = {}): Promise<string> {
  const body = new FormData();
  body.append('file', new Blob([bytes]), filename);
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  const response = await fetch(`${api.url}/documents`, { method: 'POST', body });
  expect(response.status).toBe(202);
  return ((await response.json()) as { job_id: string }).job_id;
}

const getJob = async (id: string) => (await (await fetch(`${api.url}/jobs/${id}`)).json()) as Job;
const finished = (id: string, timeoutMs = 30_000) =>
  waitFor(async () => {
    const job = await getJob(id);
    return job.status === 'completed' || job.status === 'dead' ? job : undefined;
  }, `document ${id} to finish`, timeoutMs);

const cosine = (a: number[], b: number[]) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);
const folded = (text: string) => text.replace(/\s+/g, ' ');

describe('documents through extract → analyze → summarize → embed', () => {
  test('a PDF, a DOCX, an HTML page and a text file each give their language, a summary of their own sentences, and a unit vector', async () => {
    const article = QUEUE_ARTICLE.split(/(?<=\.)\s+/);
    const inputs: [Buffer, string, string][] = [
      [buildPdf([article.slice(0, 4), article.slice(4)]), 'report.pdf', QUEUE_ARTICLE],
      [await buildDocx(article), 'report.docx', QUEUE_ARTICLE],
      [await fixture('article.html'), 'article.html', ''],
      [Buffer.from(GERMAN_TEXT), 'notiz.txt', GERMAN_TEXT],
    ];
    const ids = await Promise.all(inputs.map(([bytes, name]) => upload(bytes, name)));
    const jobs = await Promise.all(ids.map((id) => finished(id)));
    const types = ['application/pdf', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'text/html', 'text/plain'];
    for (const [i, job] of jobs.entries()) {
      expect(job.status, `${inputs[i]![1]}: ${JSON.stringify(job.error)}`).toBe('completed');
      expect(job.stages.map((stage) => [stage.name, stage.status])).toEqual([
        ['extract', 'completed'],
        ['analyze', 'completed'],
        ['summarize', 'completed'],
        ['embed', 'completed'],
      ]);
      const extracted = (await (await fetch(`${api.url}/jobs/${job.id}/stages/extract/output`)).json()) as { text: string };
      const result = job.result as { detected_type: string; language: { code: string }; sentences: string[]; summary: string; embedding: number[] };
      expect(result.detected_type).toBe(types[i]);
      expect(result.language.code).toBe(i === 3 ? 'de' : 'en');
      expect(result.summary.length).toBeGreaterThan(0);
      for (const sentence of result.sentences) expect(folded(extracted.text)).toContain(sentence);
      expect(result.embedding).toHaveLength(100);
      expect(Math.abs(Math.hypot(...result.embedding) - 1)).toBeLessThan(1e-3);
    }
  });

  test('near-identical documents have cosine similarity above 0.9, unrelated ones clearly lower', async () => {
    const ids = await Promise.all([upload(QUEUE_ARTICLE, 'a.txt'), upload(QUEUE_ARTICLE_REWORDED, 'b.txt'), upload(CAKE_RECIPE, 'cake.txt')]);
    const [a, b, cake] = (await Promise.all(ids.map((id) => finished(id)))).map((job) => (job.result as { embedding: number[] }).embedding);
    const similar = cosine(a!, b!);
    const unrelated = cosine(a!, cake!);
    console.log(`cosine: near-identical ${similar.toFixed(3)}, unrelated ${unrelated.toFixed(3)}`);
    expect(similar).toBeGreaterThan(0.9);
    expect(unrelated).toBeLessThan(0.6);
  });

  test('a file that is not what it claims fails at once, without retries, and says why', async () => {
    const job = await finished(await upload(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0xff, 0x13]), 'scan.pdf'));
    expect(job).toMatchObject({ status: 'dead', attempts: 1, stage: 'extract', error: { code: 'UNSUPPORTED_DOCUMENT', retryable: false } });
    // The stage that failed ended when the job did; the ones after it never started.
    expect(job.stages[0]).toMatchObject({ name: 'extract', status: 'dead', finished_at: job.finished_at });
    expect(job.finished_at).not.toBeNull();
    expect(job.stages[1]).toMatchObject({ status: 'pending', finished_at: null });
  });

  test('a pipeline can be chosen per upload', async () => {
    const job = await finished(await upload(QUEUE_ARTICLE, 'a.txt', { pipeline: 'document-summary' }));
    expect(job.stages.map((stage) => stage.name)).toEqual(['extract', 'summarize']);
    expect(job.id).toMatch(/^document-summary:/);
    expect((job.result as { sentences: string[] }).sentences).toHaveLength(3);
  });
});
