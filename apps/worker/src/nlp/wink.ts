import type { WinkMethods } from 'wink-nlp';
import { cachedModel } from './model-cache.js';

/**
 * wink-nlp with its English model (`wink-eng-lite-web-model`: sentences, part of speech,
 * negation, sentiment, and entities such as dates, times, money, percentages, e-mail addresses
 * and URLs). ~0.2 s to load; ~20 MB retained.
 */
export const englishNlp = cachedModel<WinkMethods>('wink-eng-lite-web-model', async () => {
  const [{ default: winkNlp }, { default: model }] = await Promise.all([import('wink-nlp'), import('wink-eng-lite-web-model')]);
  return winkNlp(model);
});

/**
 * wink reads a text in one synchronous call: texts are fed to it in pieces of at most this many
 * characters (tens of milliseconds each), yielding between them so the event loop (lease
 * renewals, the abort signal) keeps running.
 */
export const WINK_CHUNK_CHARACTERS = 20_000;
