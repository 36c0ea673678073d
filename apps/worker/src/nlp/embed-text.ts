import { EventLoopTurns } from '../text/event-loop-turns.js';
import { STOPWORDS } from '../text/stopwords.js';
import { wordsOf } from '../text/tokenize.js';
import { EMBEDDING_DIMENSIONS, EMBEDDINGS_PACKAGE } from './embeddings-file.js';
import type { WordVectors } from './word-vectors.js';
import { sifWeight, wordVectors } from './word-vectors.js';

/**
 * A text's embedding, after SIF (Arora et al., 2017, "A simple but tough-to-beat baseline for
 * sentence embeddings"): the mean of its content words' vectors, each weighted by how rare the
 * word is (sifWeight), minus its projection on the common direction of English, L2-normalized.
 */
export interface TextEmbedding {
  /** Unit length, EMBEDDING_DIMENSIONS components; null when no word of the text has a vector. */
  vector: Float32Array | null;
  /** Words of the text that have a vector (repeats counted). */
  knownWords: number;
  model: string;
}

/** The embedding of `text`, giving the event loop its turns (see EventLoopTurns); it stops when `signal` aborts. */
export async function embedText(text: string, signal?: AbortSignal): Promise<TextEmbedding> {
  return embedWords(await wordVectors.get(), wordsOf(text), new EventLoopTurns(signal));
}

async function embedWords({ table, commonDirection }: WordVectors, tokens: Iterable<string>, turns: EventLoopTurns): Promise<TextEmbedding> {
  const sum = new Float64Array(EMBEDDING_DIMENSIONS);
  let knownWords = 0;
  const add = (word: string): boolean => {
    const row = table.rows.get(word);
    if (row === undefined) return false;
    const weight = sifWeight(row);
    const offset = row * EMBEDDING_DIMENSIONS;
    for (let i = 0; i < EMBEDDING_DIMENSIONS; i++) sum[i]! += weight * table.components[offset + i]!;
    knownWords++;
    return true;
  };
  for (const token of tokens) {
    if (STOPWORDS.has(token) || !/\p{L}/u.test(token)) continue;
    // The vocabulary splits compounds and contractions: "worker-side" → "worker", "side".
    if (!add(token)) for (const part of token.split(/['’-]/)) if (part !== token && !STOPWORDS.has(part)) add(part);
    if (turns.due()) await turns.take();
  }
  const common = sum.reduce((dot, value, i) => dot + value * commonDirection[i]!, 0);
  for (let i = 0; i < EMBEDDING_DIMENSIONS; i++) sum[i]! -= common * commonDirection[i]!;
  const norm = Math.hypot(...sum);
  if (knownWords === 0 || norm === 0) return { vector: null, knownWords: 0, model: EMBEDDINGS_PACKAGE };
  return { vector: Float32Array.from(sum, (value) => value / norm), knownWords, model: EMBEDDINGS_PACKAGE };
}

/** Cosine similarity of two vectors of equal length. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    normA += a[i]! * a[i]!;
    normB += b[i]! * b[i]!;
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}
