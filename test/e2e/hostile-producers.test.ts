import { createRedis, newJobId, QueueKeys } from '@conveyor/shared';
import type { Redis } from 'ioredis';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { apiJobs } from './api-jobs.js';

/**
 * Any Redis client can XADD into a stage stream (README, Producing jobs from any Redis client), so
 * entries come in shapes nobody planned: unknown models, no fields Conveyor knows, bytes that are
 * not UTF-8, a megabyte in one field, hundreds of fields, the reserved `job` field misused. Each
 * ends completed or dead with a reason, never pending, and the worker keeps running jobs.
 */
const prefix = uniquePrefix('hostile');
let api: ApiProcess;
let worker: WorkerProcess;
let producer: Redis;
const LANES = ['high', 'normal', 'low'] as const;
const inference = new QueueKeys(prefix, 'inference');
const documents = new QueueKeys(prefix, 'documents');

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  const env = { MAX_ATTEMPTS: '1', LOG_TRANSITIONS: 'false' };
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix, env }), startWorker({ redisUrl, prefix, env })]);
  producer = createRedis(redisUrl, { role: 'command', name: 'hostile-producer' });
}, 60_000);

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await deletePrefix(producer, prefix);
  producer?.disconnect();
});

const { post, job, settled } = apiJobs(() => api.url);

/** The job's record once it is completed or dead. */
const finished = (id: string) =>
  waitFor(async () => {
    const record = await job(id);
    return (record['status'] === 'completed' || record['status'] === 'dead') && record;
  }, `${id} to finish`, 20_000);

describe('entries other producers XADD', () => {
  test('each odd entry ends completed or dead with a reason, none stays pending, and the worker keeps running jobs', async () => {
    const add = async (stream: string, ...fields: Array<string | Buffer>) => (await producer.xadd(stream, '*', ...fields))!;
    const manyFields = Array.from({ length: 300 }, (_, i) => [`field${i}`, `value ${i}`]).flat();
    const cases: Array<{ name: string; id: string; status: 'completed' | 'dead' }> = [
      // Retried 30 s later, should another worker run it; MAX_ATTEMPTS is 1 here.
      { name: 'an unknown model', id: `inference:${await add(inference.stream('infer', 'normal'), 'model', 'no-such-model', 'prompt', 'x')}`, status: 'dead' },
      { name: 'no field Conveyor knows', id: `inference:${await add(inference.stream('infer', 'normal'), 'colour', 'blue')}`, status: 'dead' },
      { name: 'a model that is JSON text', id: `inference:${await add(inference.stream('infer', 'normal'), 'model', '{"name":"echo"}', 'prompt', 'x')}`, status: 'dead' },
      { name: 'a payload field that is not JSON', id: `inference:${await add(inference.stream('infer', 'normal'), 'payload', '{not json')}`, status: 'dead' },
      { name: 'bytes that are not UTF-8', id: `inference:high:${await add(inference.stream('infer', 'high'), 'model', 'echo', 'prompt', Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]))}`, status: 'completed' },
      { name: '900 kB in one field', id: `inference:low:${await add(inference.stream('infer', 'low'), 'model', 'echo', 'prompt', 'x'.repeat(900_000))}`, status: 'completed' },
      { name: 'a prompt over the 1,000,000-character limit', id: `inference:low:${await add(inference.stream('infer', 'low'), 'model', 'echo', 'prompt', 'x'.repeat(1 << 20))}`, status: 'dead' },
      { name: '300 fields', id: `inference:${await add(inference.stream('infer', 'normal'), 'model', 'echo', 'prompt', 'many', ...manyFields)}`, status: 'completed' },
      { name: 'empty field names and values', id: `inference:${await add(inference.stream('infer', 'normal'), '', '', 'model', 'echo', 'prompt', '')}`, status: 'completed' },
      { name: 'field names that are not ASCII', id: `inference:${await add(inference.stream('infer', 'normal'), 'model', 'echo', 'prompt', 'привет', 'ключ', 'значение')}`, status: 'completed' },
      { name: "a later stage's entry with no text", id: `documents:summarize:normal:${await add(documents.stream('summarize', 'normal'), 'colour', 'blue')}`, status: 'dead' },
      { name: 'a document entry, with no document', id: `documents:${await add(documents.stream('extract', 'normal'), 'doc_id', 'report.pdf', 'size', '1234')}`, status: 'dead' },
    ];
    const outcomes = await Promise.all(cases.map(async (each) => ({ name: each.name, record: await finished(each.id) })));
    for (const [i, { name, record }] of outcomes.entries()) {
      expect(record["status"], `${name}: ${JSON.stringify({ ...record, input: undefined, result: undefined })}`).toBe(cases[i]!.status);
      if (record['status'] === 'dead') expect((record['error'] as { message?: string } | null)?.message, name).toMatch(/\w/);
    }
    // GET /jobs/:id shows a preview of so large a result; the stage's output route gives it whole.
    expect(outcomes[5]!.record['result_truncated']).toBe(true);
    const whole = await fetch(`${api.url}/jobs/${encodeURIComponent(cases[5]!.id)}/stages/infer/output`);
    expect((await whole.json()) as unknown).toMatchObject({ model: 'echo', text: 'x'.repeat(900_000) });
    expect(outcomes[6]!.record['error']).toMatchObject({ code: 'INVALID_PAYLOAD', message: expect.stringMatching(/not a valid inference request: .*Too big.*prompt/s) });
    // Documents come in through POST /documents only, and each says so.
    expect(outcomes[10]!.record['error']).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining("a document's jobs start at the first stage (POST /documents)") });
    expect(outcomes[11]!.record['error']).toMatchObject({ code: 'NO_DOCUMENT', message: expect.stringContaining('documents come in through POST /documents') });
    expect(outcomes[0]!.record['error']).toMatchObject({ code: 'UNKNOWN_MODEL', retryable: true, message: expect.stringContaining('unknown model "no-such-model"') });

    // The reserved `job` field naming a job that already finished: the entry is stale and acked,
    // the job is left as it was.
    const [done] = await settled([((await (await post('/jobs', { model: 'echo', prompt: 'finished before' })).json()) as { job_id: string }).job_id]);
    await add(inference.stream('infer', 'normal'), 'job', String(done!['id']), 'payload', '{"model":"echo","prompt":"again"}');
    // And `job` holding what is no job ID of this queue: the entry is a plain one, named after
    // its entry ID, and its fields (the misused one too) are its input.
    const misused = await Promise.all([
      add(inference.stream('infer', 'normal'), 'job', 'not a job id'),
      add(inference.stream('infer', 'normal'), 'job', 'documents:01JDQ8K3V7X9ABCDEFGHJKMNPQ', 'model', 'echo', 'prompt', 'another queue'),
      add(inference.stream('infer', 'normal'), 'job', 'inference:tab\there', 'model', 'echo', 'prompt', 'a tab'),
      // Bytes that are not UTF-8 read as U+FFFD in the worker: the job was failed under another ID than its record's, and stayed active.
      add(inference.stream('infer', 'normal'), 'job', Buffer.concat([Buffer.from('inference:'), Buffer.from([0xff, 0xfe])]), 'model', 'echo', 'prompt', 'not UTF-8'),
      // An ID longer than the API's routes take: its record could not be read.
      add(inference.stream('infer', 'normal'), 'job', `inference:${'a'.repeat(100)}`, 'model', 'echo', 'prompt', 'too long'),
    ]);
    const [noId, otherQueue, tab, notUtf8, tooLong] = await Promise.all(misused.map((entryId) => finished(`inference:${entryId}`)));
    expect(notUtf8).toMatchObject({ status: 'completed', input: { job: 'inference:\ufffd\ufffd' }, result: { text: 'not UTF-8' } });
    expect(tooLong).toMatchObject({ status: 'completed', input: { job: `inference:${'a'.repeat(100)}` }, result: { text: 'too long' } });
    expect(noId).toMatchObject({ status: 'dead', input: { job: 'not a job id' }, error: { code: 'INVALID_PAYLOAD' } });
    expect(otherQueue).toMatchObject({ status: 'completed', result: { text: 'another queue' } });
    expect(tab).toMatchObject({ status: 'completed', input: { job: 'inference:tab\there' }, result: { text: 'a tab' } });

    const [after] = await settled([((await (await post('/jobs', { model: 'echo', prompt: 'still running jobs' })).json()) as { job_id: string }).job_id]);
    expect(after!['result']).toMatchObject({ text: 'still running jobs' });
    expect(await job(String(done!['id']))).toMatchObject({ status: 'completed', attempts: 1, result: { text: 'finished before' } });

    // Nothing is left pending in any stream of either queue once the last job has finished.
    await waitFor(async () => {
      const streams = [
        ...LANES.map((lane) => [inference.stream('infer', lane), 'infer'] as const),
        ...['extract', 'analyze', 'summarize', 'embed'].flatMap((stage) => LANES.map((lane) => [documents.stream(stage, lane), stage] as const)),
      ];
      const pending = await Promise.all(streams.map(async ([stream, group]) => ((await producer.xpending(stream, group).catch(() => [0])) as [number])[0]));
      return pending.every((count) => count === 0);
    }, 'every entry to be acked', 20_000);
    expect(worker.running, worker.describe()).toBe(true);
  });

  test('options (`opts`) that are not what the API writes are left out, and the entries read with them run: one that was not JSON failed the take after its read, and every entry read with it stayed delivered and never started', async () => {
    const entry = (payload: object, opts: string) => ['job', newJobId('inference'), 'payload', JSON.stringify(payload), 'opts', opts];
    const cases = [
      entry({ model: 'echo', prompt: 'opts not JSON' }, 'not json'),
      entry({ model: 'echo', prompt: 'opts a list' }, '[1,2]'),
      entry({ model: 'echo', prompt: 'max_attempts a word', params: { fail: 'always' } }, '{"max_attempts":"abc","timeout_ms":-5,"backoff":"slow"}'),
      ...Array.from({ length: 10 }, (_, i) => entry({ model: 'echo', prompt: `behind ${i}` }, '{"max_attempts":2}')),
    ];
    // In one transaction, so the worker reads them in one take.
    const transaction = producer.multi();
    for (const fields of cases) transaction.xadd(inference.stream('infer', 'normal'), '*', ...fields);
    await transaction.exec();
    const records = await Promise.all(cases.map((fields) => finished(fields[1]!)));
    expect(records.map((record) => record['status'])).toEqual(['completed', 'completed', 'dead', ...Array(10).fill('completed')]);
    // The word is left out: MAX_ATTEMPTS (1) applies, and GET /jobs/:id shows it (a NaN there was a 500).
    expect(records[2]).toMatchObject({ attempts: 1, max_attempts: 1, error: { code: 'PROCESSOR_ERROR' } });
    expect(records[3]).toMatchObject({ max_attempts: 2, result: { text: 'behind 0' } });
  });
});
