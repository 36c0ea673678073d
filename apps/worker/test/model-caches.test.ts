import { expect, test } from 'vitest';
import { includesBuiltInModels, invalidateModelCaches, onModelInvalidated } from '../src/processors/model-caches.js';

test("a processor of your own drops its cached model when a broadcast names it or names none; not for another model, nor once it took its function back", () => {
  const dropped: string[] = [];
  const stop = onModelInvalidated('reranker', () => dropped.push('reranker'));
  const stopOther = onModelInvalidated('classifier', () => dropped.push('classifier'));
  try {
    expect(invalidateModelCaches('reranker')).toEqual(['reranker']);
    expect(dropped).toEqual(['reranker']);
    expect(includesBuiltInModels(['reranker'])).toBe(false);

    expect(invalidateModelCaches('sentiment')).toEqual(['sentiment', 'summarize', 'embed', 'language']);
    expect(dropped).toEqual(['reranker']);

    expect(invalidateModelCaches(undefined)).toEqual(['sentiment', 'summarize', 'embed', 'language', 'reranker', 'classifier']);
    expect(dropped).toEqual(['reranker', 'reranker', 'classifier']);

    stop();
    expect(invalidateModelCaches('reranker')).toEqual([]);
    expect(dropped).toEqual(['reranker', 'reranker', 'classifier']);
  } finally {
    stop();
    stopOther();
  }
});

test('a function that throws is told of, and the others for that model still run', () => {
  const ran: string[] = [];
  const failures: [string, string][] = [];
  const stops = [
    onModelInvalidated('ranker', () => {
      throw new Error('cache locked');
    }),
    onModelInvalidated('ranker', () => ran.push('second')),
  ];
  try {
    expect(invalidateModelCaches('ranker', (model, error) => failures.push([model, (error as Error).message]))).toEqual(['ranker']);
    expect(failures).toEqual([['ranker', 'cache locked']]);
    expect(ran).toEqual(['second']);
  } finally {
    for (const stop of stops) stop();
  }
});
