import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';

// A worker whose heap is capped far below what CONCURRENCY (8) long documents at once used to
// take (one 20 MiB text raised an extract worker's RSS by ~370 MB, and 8 of them an analyze
// worker's to 1.8 GB), so it runs out of memory unless it works through long texts in pieces and
// keeps to its load budget. Scaled down to stay fast: 8 documents of 8 MiB, a 16 MiB budget (two
// of them at once), a 112 MB heap; without the budget it ran out of heap too.
const DOCUMENTS = 8;
const DOCUMENT_CHARS = 8 * 1024 * 1024;
const HEAP_MB = 112;

const prefix = uniquePrefix('e2e-large-docs');
let api: ApiProcess;
let worker: WorkerProcess;
let redis: Redis;

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  api = await startApi({ redisUrl, prefix });
  redis = createRedis(redisUrl, { role: 'command', name: 'large-documents' });
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

/** Deterministic prose of `chars` characters, with how many words and sentences it has. */
function prose(chars: number, seed: number): { text: string; words: number } {
  let state = seed;
  const next = (n: number) => ((state = (state * 1_103_515_245 + 12_345) % 2_147_483_648) % n);
  const vocabulary = Array.from({ length: 5_000 }, (_, i) => `w${i.toString(36)}${'aeiou'[i % 5]}`);
  const paragraphs: string[] = [];
  let length = 0;
  let words = 0;
  while (length < chars) {
    const sentences: string[] = [];
    for (let s = 0; s < 5; s++) {
      const count = 6 + next(10);
      const picked = Array.from({ length: count }, () => vocabulary[next(vocabulary.length)]!);
      sentences.push(`${picked[0]!.toUpperCase()} ${picked.slice(1).join(' ')}.`);
      words += count;
    }
    const paragraph = sentences.join(' ');
    paragraphs.push(paragraph);
    length += paragraph.length + 2;
  }
  return { text: paragraphs.join('\n\n'), words };
}

interface Job {
  id: string;
  status: string;
  error: unknown;
  result: { text_length: number; word_count: number; sentences: string[] };
  stages: { name: string; status: string; attempts: number }[];
}

test(`a worker with a ${HEAP_MB} MB heap completes ${DOCUMENTS} documents of ${DOCUMENT_CHARS / 1024 / 1024} MiB held at once, each once, with its whole text read`, async () => {
  const documents = Array.from({ length: DOCUMENTS }, (_, i) => prose(DOCUMENT_CHARS, i + 1));
  const ids: string[] = [];
  for (const [i, { text }] of documents.entries()) {
    const body = new FormData();
    body.append('file', new Blob([text]), `long-${i}.txt`);
    body.append('pipeline', 'document-summary');
    const response = await fetch(`${api.url}/documents`, { method: 'POST', body });
    expect(response.status).toBe(202);
    ids.push(((await response.json()) as { job_id: string }).job_id);
  }
  // Started after the uploads, so that its first take holds all of them at once. A short lease:
  // jobs that wait for the budget must keep theirs meanwhile, not be taken over (a second attempt).
  worker = await startWorker({
    redisUrl: inject('redisUrl'),
    prefix,
    nodeFlags: [`--max-old-space-size=${HEAP_MB}`],
    env: { WORKER_STAGES: 'document-summary', CONCURRENCY: '8', LOAD_BUDGET: '16MiB', LEASE_MS: '2s' },
  });
  // Polled in Redis: GET /jobs/:id reads every stage's whole output, megabytes per poll here.
  const keys = new QueueKeys(prefix, 'document-summary');
  const died = worker.exited.then(() => {
    throw new Error(`the worker died: ${worker.describe()}`);
  });
  const finished = waitFor(async () => {
    const statuses = await Promise.all(ids.map((id) => redis.hget(keys.job(id), 'status')));
    return statuses.every((status) => status === 'completed' || status === 'dead');
  }, `${DOCUMENTS} documents to finish`, 50_000);
  await Promise.race([finished, died]);
  for (const [i, id] of ids.entries()) {
    const job = (await (await fetch(`${api.url}/jobs/${id}`)).json()) as Job;
    expect(job.status, JSON.stringify(job.error)).toBe('completed');
    expect(job.stages.map(({ name, status, attempts }) => [name, status, attempts])).toEqual([
      ['extract', 'completed', 1],
      ['summarize', 'completed', 1],
    ]);
    const { text, words } = documents[i]!;
    expect(job.result).toMatchObject({ text_length: text.length, word_count: words });
    expect(job.result.sentences).toHaveLength(3);
    for (const sentence of job.result.sentences) expect(text).toContain(sentence);
  }
  // Renewals every 667 ms went out beside completions carrying megabytes of text, and often ran
  // just after them. Each then found its attempt gone, and the worker warned "lease lost" about
  // attempts it had just recorded: a warning an operator would chase for nothing.
  const warnings = worker.logs().filter((line) => Number(line['level']) >= 40);
  expect(warnings, worker.describe()).toEqual([]);
}, 60_000);
