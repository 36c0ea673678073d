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

/** What processors of your own drop on an invalidate-model-cache broadcast, by model name. */
const ownCaches = new Map<string, Set<() => void>>();

/**
 * For a processor of your own that caches a model: `drop` runs when an `invalidate-model-cache`
 * broadcast names `model`, or names no model (every one). Call it where the processor is made
 * (registry.ts); it answers a function that takes `drop` back. A throwing `drop` is logged by the
 * worker, and the others still run.
 */
export function onModelInvalidated(model: string, drop: () => void): () => void {
  let drops = ownCaches.get(model);
  if (!drops) ownCaches.set(model, (drops = new Set()));
  drops.add(drop);
  return () => {
    drops.delete(drop);
    if (drops.size === 0 && ownCaches.get(model) === drops) ownCaches.delete(model);
  };
}

/** Whether dropping `models` dropped built-in state, which the worker then loads again (ModelPreloader). */
export function includesBuiltInModels(models: readonly string[]): boolean {
  return models.some((model) => NLP_MODELS.includes(model));
}

/**
 * Drops the cached state of `model`, or of every model, on an `invalidate-model-cache`
 * broadcast; the worker loads the built-in state again at once (ModelPreloader), or the next job
 * that uses it does. Returns the models whose state was dropped: the built-in models share one
 * cache, so naming any of them drops all of them; a model of your own (onModelInvalidated) is
 * dropped by its own functions. `failed` is told of each of those that throws.
 */
export function invalidateModelCaches(model: string | undefined, failed: (model: string, error: unknown) => void = () => {}): string[] {
  const dropped: string[] = [];
  if (model === undefined || NLP_MODELS.includes(model)) {
    resetNlpCaches();
    dropped.push(...NLP_MODELS);
  }
  for (const [name, drops] of ownCaches) {
    if (model !== undefined && name !== model) continue;
    for (const drop of drops) {
      try {
        drop();
      } catch (error) {
        failed(name, error);
      }
    }
    dropped.push(name);
  }
  return dropped;
}
