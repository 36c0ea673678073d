import { resetNlpCaches } from '../nlp/model-cache.js';

/** Built-in models whose cached state (wink model, word vectors, language data) is the shared NLP cache. */
const NLP_MODELS = ['sentiment', 'summarize', 'embed', 'language'];

/**
 * Drops the cached state of `model`, or of every model, on an `invalidate-model-cache`
 * broadcast; the next job reloads it. Returns the models whose state was dropped: the built-in
 * models share one cache, so naming any of them drops all of them.
 */
export function invalidateModelCaches(model?: string): string[] {
  if (model !== undefined && !NLP_MODELS.includes(model)) return [];
  resetNlpCaches();
  return NLP_MODELS;
}
