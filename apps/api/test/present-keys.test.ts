import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { MAX_PARAMS_DEPTH } from '@conveyor/shared';
import { createBatchSchema, createJobSchema, jobBodyParser, tryParseBatch } from '../src/schemas/create-job.js';
import { PresentKeysParser } from '../src/schemas/present-keys.js';

const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
const deep = (levels: number): unknown => (levels === 0 ? 1 : { a: deep(levels - 1) });

/** Bodies the whole schema takes: the fields set in many combinations and orders. */
const taken: Record<string, unknown>[] = [
  { model: 'echo' },
  { model: 'echo', prompt: 'hi' },
  { user_id: '12345', model: 'echo', prompt: 'Summarize this document...', priority: 'normal' },
  { priority: 'high', prompt: 'order of keys differs', model: 'echo', user_id: '7' },
  { model: 'echo', prompt: 'x', queue: 'inference', max_attempts: 5, timeout_ms: 1_000, backoff: { type: 'fixed', delay_ms: 100 } },
  { model: 'echo', prompt: 'x', run_at: inAnHour },
  { model: 'echo', prompt: 'x', delay_ms: 0 },
  { model: 'echo', prompt: 'x', params: { temperature: 0.2, nested: { list: [1, 'two', null] } }, metadata: { team: 'search' } },
  { model: 'echo', params: deep(MAX_PARAMS_DEPTH - 1) as Record<string, unknown> },
  { model: 'chat', params: { messages: [{ role: 'user', content: 'hi' }] } },
  { model: 'embed', params: { input: ['one', 'two'] } },
];

/** Bodies it refuses: each must go to the whole schema, whose errors are the ones reported. */
const refused: unknown[] = [
  null,
  [],
  'text',
  42,
  {},
  { prompt: 'no model' },
  { model: '' },
  { model: 'echo', unknown_field: 1 },
  { model: 'echo', run_at: inAnHour, delay_ms: 10 },
  { model: 'echo', priority: 'urgent' },
  { model: 'echo', max_attempts: 'three' },
  { model: 'echo', params: deep(MAX_PARAMS_DEPTH + 2) },
  { model: 'echo', params: { big: Infinity } },
  // JSON text, as a producer writing plain stream fields sends params: the API takes an object.
  { model: 'echo', params: '{"sleep_ms":5}' },
  { model: 'echo', metadata: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v'])) },
  { model: 'echo', delay_ms: -1 },
  JSON.parse('{"model":"echo","__proto__":{"x":1}}'),
  JSON.parse('{"model":"echo","constructor":{}}'),
];

describe('parsing a job by the fields it sets gives what the whole schema gives', () => {
  test('the same output, key order included, for bodies the schema takes', () => {
    for (const body of taken) {
      const whole = createJobSchema.safeParse(body);
      expect(whole.success, JSON.stringify(body)).toBe(true);
      // Key order matters: a job's stored input and its idempotency fingerprint are JSON text.
      expect(JSON.stringify(jobBodyParser.tryParse(body)), JSON.stringify(body)).toBe(JSON.stringify(whole.data));
    }
  });

  test('nothing for bodies the schema refuses, so the schema itself reports them', () => {
    for (const body of refused) {
      expect(createJobSchema.safeParse(body).success, JSON.stringify(body)).toBe(false);
      expect(jobBodyParser.tryParse(body), JSON.stringify(body)).toBeUndefined();
    }
  });

  test('a batch: the same jobs, or nothing when any job or the batch itself is refused', () => {
    const batch = { jobs: taken.map((job, i) => (i % 2 ? { ...job, idempotency_key: `key-${i}` } : job)) };
    expect(JSON.stringify(tryParseBatch(batch))).toBe(JSON.stringify(createBatchSchema.parse(batch)));
    for (const bad of refused) expect(tryParseBatch({ jobs: [...taken, bad] }), JSON.stringify(bad)).toBeUndefined();
    for (const body of [{ jobs: [] }, { jobs: Array.from({ length: 1_001 }, () => ({ model: 'echo' })) }, { jobs: taken, extra: 1 }, { jobs: 'none' }, [], null]) {
      expect(createBatchSchema.safeParse(body).success).toBe(false);
      expect(tryParseBatch(body)).toBeUndefined();
    }
  });

  test('past its limit of key sets it gives up rather than keep more schemas, and stays right for the sets it has', () => {
    const fields = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, z.number().optional()]));
    const parser = new PresentKeysParser(z.object({ id: z.string(), ...fields }).strict(), (picked) => picked);
    const setOf = (n: number) => ({ id: 'x', ...Object.fromEntries(Object.keys(fields).filter((_, i) => n & (1 << i)).map((key) => [key, 1])) });
    for (let n = 0; n < 256; n++) expect(parser.tryParse(setOf(n))).toEqual(setOf(n));
    expect(parser.tryParse(setOf(256))).toBeUndefined();
    expect(parser.tryParse(setOf(255))).toEqual(setOf(255));
    expect(parser.tryParse({ ...setOf(3), f0: 'not a number' })).toBeUndefined();
  });
});
