import { loadNlpCaches, nlpCacheStats, resetNlpCaches } from '../nlp/model-cache.js';

/** Built-in models whose cached state (wink model, word vectors, language data) is the shared NLP cache. */
const NLP_MODELS = ['sentiment', 'summarize', 'embed', 'language'];

/** Stages whose processors use that cache: infer for the models above, and the document stages that read text. */
const NLP_STAGES = new Set(['infer', 'analyze', 'summarize', 'embed']);

/** Whether a worker serving these stages uses the built-in NLP models. */
export function usesNlpModels(stages: Iterable<string>): boolean {
  return [...stages].some((stage) => NLP_STAGES.has(stage));
}

/**
 * Loads the built-in NLP models now rather than on first use. Loading holds the event loop for
 * up to half a second at a time (1–2 s in all), when a worker holding jobs would renew no lease;
 * a worker does it before it takes jobs. Resolves with each model's load time in milliseconds.
 */
export async function loadModelCaches(): Promise<Record<string, number | undefined>> {
  await loadNlpCaches();
  return Object.fromEntries(Object.entries(nlpCacheStats()).map(([name, stats]) => [name, stats.lastLoadMs]));
}

/**
 * Drops the cached state of `model`, or of every model, on an `invalidate-model-cache`
 * broadcast; the worker loads it again at once (ModelPreloader), or the next job that uses it
 * does. Returns the models whose state was dropped: the built-in models share one cache, so
 * naming any of them drops all of them.
 */
export function invalidateModelCaches(model?: string): string[] {
  if (model !== undefined && !NLP_MODELS.includes(model)) return [];
  resetNlpCaches();
  return NLP_MODELS;
}
