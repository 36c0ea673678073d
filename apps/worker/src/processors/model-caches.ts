import { languageDetector } from '../nlp/language.js';
import { resetNlpCaches, type CachedModel } from '../nlp/model-cache.js';
import { wordRanks } from '../nlp/vocabulary.js';
import { wordVectors } from '../nlp/word-vectors.js';
import { englishNlp } from '../nlp/wink.js';

/** Built-in models whose cached state (wink model, word vectors, language data) is the shared NLP cache. */
const NLP_MODELS = ['sentiment', 'summarize', 'embed', 'language'];

/**
 * The cached models each stage's processor uses: infer's for the built-in models sentiment
 * (wink), language (eld) and embed (word vectors). Summaries (the summarize stage and model) use none.
 */
const STAGE_MODELS: Readonly<Record<string, readonly CachedModel<unknown>[]>> = {
  infer: [englishNlp, languageDetector, wordVectors],
  analyze: [englishNlp, languageDetector, wordRanks],
  embed: [wordVectors],
};

/** The cached models a worker serving these stages uses, each once. */
export function modelsOfStages(stages: Iterable<string>): CachedModel<unknown>[] {
  return [...new Set([...stages].flatMap((stage) => STAGE_MODELS[stage] ?? []))];
}

/**
 * Loads `models` now rather than on first use (those loaded already stay). Loading holds the
 * event loop for up to half a second at a time, when a worker holding jobs would renew no lease.
 * Resolves with each model's load time in milliseconds.
 */
export async function loadModels(models: readonly CachedModel<unknown>[]): Promise<Record<string, number | undefined>> {
  await Promise.all(models.map((model) => model.get()));
  return Object.fromEntries(models.map((model) => [model.name, model.stats().lastLoadMs]));
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
