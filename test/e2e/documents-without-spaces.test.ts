import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

// Texts written without spaces: Japanese, whose sentences end in 。 with no space after, and one
// long "word" (a base64 or hex dump saved as .txt). The summary of the first was its whole text
// as one sentence; the second was one window, one sentence and one keyword, so a 20 MiB upload
// stored its text three more times in the job's record (210 MB).
const prefix = uniquePrefix('e2e-docs-unspaced');
let api: ApiProcess;
let worker: WorkerProcess;
let redis: Redis;

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix }), startWorker({ redisUrl, prefix })]);
  redis = createRedis(redisUrl, { role: 'command', name: 'documents-without-spaces' });
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  if (redis) {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
});

const JAPANESE_SENTENCES = [
  '東京は日本の首都です。',
  '大阪は西日本の中心です。',
  '京都には古い寺がたくさんあります。',
  '「東京の人口は約千四百万人です。」',
  '新幹線は東京と大阪を結んでいます！',
  '北海道は冬がとても寒いです。',
  '沖縄は一年中暖かいですか？',
  '東京の地下鉄はとても便利です。',
];

/** `count` Japanese sentences in turn, in paragraphs of eight, without a space anywhere. */
function japanese(count: number): string {
  const sentences = Array.from({ length: count }, (_, i) => JAPANESE_SENTENCES[i % JAPANESE_SENTENCES.length]!);
  const paragraphs: string[] = [];
  for (let i = 0; i < sentences.length; i += 8) paragraphs.push(sentences.slice(i, i + 8).join(''));
  return paragraphs.join('\n\n');
}

/** One deterministic run of `chars` letters and digits: one word, no sentence end. */
function oneWord(chars: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let state = 7;
  let word = '';
  while (word.length < chars) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    word += alphabet[state % alphabet.length];
  }
  return word;
}

async function upload(text: string, filename: string): Promise<string> {
  const body = new FormData();
  body.append('file', new Blob([text]), filename);
  const response = await fetch(`${api.url}/documents`, { method: 'POST', body });
  expect(response.status).toBe(202);
  return ((await response.json()) as { job_id: string }).job_id;
}

interface StoredRecord {
  status: string;
  error?: string;
  /** Bytes of each field of the job's hash. */
  fieldBytes: { [field: string]: number };
  memoryBytes: number;
}

/** The job's record in Redis once it is finished: polled there, since GET /jobs/:id would send every output whole. */
async function finishedRecord(id: string): Promise<StoredRecord> {
  const key = new QueueKeys(prefix, 'documents').job(id);
  const status = await waitFor(async () => {
    const value = await redis.hget(key, 'status');
    return value === 'completed' || value === 'dead' ? value : undefined;
  }, `document ${id} to finish`, 20_000);
  const fields = await redis.hkeys(key);
  const lengths = await Promise.all(fields.map((field) => redis.hstrlen(key, field)));
  return {
    status,
    error: (await redis.hget(key, 'error')) ?? undefined,
    fieldBytes: Object.fromEntries(fields.map((field, i) => [field, lengths[i]!])),
    // SAMPLES 0: every field counted, not five of them.
    memoryBytes: Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')),
  };
}

/** The fields that hold the document itself: the upload, the extracted text, and its head kept for previews. */
const DOCUMENT_FIELDS = ['doc', 'out:extract', 'head:out:extract'];
const documentBytes = ({ fieldBytes }: StoredRecord) => DOCUMENT_FIELDS.reduce((sum, field) => sum + (fieldBytes[field] ?? 0), 0);
/** What the record holds beyond the document: every other field (each later stage's output, the result). */
const beyondDocument = ({ fieldBytes }: StoredRecord) =>
  Object.entries(fieldBytes).reduce((sum, [field, bytes]) => (DOCUMENT_FIELDS.includes(field) ? sum : sum + bytes), 0);

describe('documents written without spaces', () => {
  test('a Japanese text is summarized in several of its sentences, with its words as keywords, and a one-word megabyte adds kilobytes to its record, not megabytes', async () => {
    const text = japanese(120);
    const word = oneWord(1024 * 1024);
    const [japaneseId, wordId] = await Promise.all([upload(text, 'nihon.txt'), upload(word, 'dump.txt')]);

    const [japaneseRecord, wordRecord] = await Promise.all([finishedRecord(japaneseId), finishedRecord(wordId)]);
    const bytes = wordRecord.fieldBytes;
    console.log(
      `one-word 1 MiB document: record ${(wordRecord.memoryBytes / 1024).toFixed(0)} KiB in Redis, ${(beyondDocument(wordRecord) / 1024).toFixed(0)} KiB beyond the document; fields ${JSON.stringify(bytes)}`,
    );

    expect(japaneseRecord.status, japaneseRecord.error).toBe('completed');
    const job = (await (await fetch(`${api.url}/jobs/${japaneseId}`)).json()) as {
      result: { language: { code: string }; sentences: string[]; summary: string; keywords: { term: string }[] };
    };
    expect(job.result.language.code).toBe('ja');
    expect(job.result.sentences).toHaveLength(3);
    for (const sentence of job.result.sentences) expect(JAPANESE_SENTENCES).toContain(sentence);
    expect(job.result.summary).toBe(job.result.sentences.join(' '));
    expect(job.result.keywords.map(({ term }) => term)).toContain('東京');

    expect(wordRecord.status, wordRecord.error).toBe('completed');
    expect(bytes['out:extract']).toBeGreaterThan(word.length);
    for (const field of ['result', 'out:analyze', 'out:summarize', 'out:embed']) expect(bytes[field] ?? 0, field).toBeLessThan(16 * 1024);
    expect(beyondDocument(wordRecord)).toBeLessThan(64 * 1024);
    // The upload and its text, 1 MiB each, in allocations Redis rounds up: 2.6 MiB in all (11 MiB
    // when the summary, its sentences and a keyword each held the whole text).
    expect(wordRecord.memoryBytes).toBeLessThan(documentBytes(wordRecord) * 1.5);
  });
});
