import type { WinkMethods } from 'wink-nlp';
import { cachedModel } from './model-cache.js';

/**
 * Built once per process, and kept when the caches are reset: each `winkNlp(model)` encodes the
 * model's entity machines as JSON again, in place (`machines = JSON.stringify(machines)` in the
 * model's load-cer-meta-model.js), so each rebuild doubled them. The 20th ran out of string length
 * (RangeError: Invalid string length), after gigabytes, and every job that needed the model
 * failed from then on. The model is data bundled with the worker: it cannot change while it runs.
 */
let built: WinkMethods | undefined;

/**
 * wink-nlp with its English model (`wink-eng-lite-web-model`: sentences, part of speech,
 * negation, sentiment, and entities such as dates, times, money, percentages, e-mail addresses
 * and URLs). ~0.2 s to load; ~20 MB retained.
 */
export const englishNlp = cachedModel<WinkMethods>('wink-eng-lite-web-model', async () => {
  if (built) return built;
  const [{ default: winkNlp }, { default: model }] = await Promise.all([import('wink-nlp'), import('wink-eng-lite-web-model')]);
  return (built = winkNlp(model));
});

/**
 * wink reads a text in one synchronous call: texts are fed to it in pieces of at most this many
 * characters (tens of milliseconds each), yielding between them so the event loop (lease
 * renewals, the abort signal) keeps running.
 */
export const WINK_CHUNK_CHARACTERS = 20_000;
