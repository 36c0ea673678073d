import { requirePrompt } from '@conveyor/shared';
import { embedText } from '../../nlp/embed-text.js';
import { EMBEDDING_DIMENSIONS } from '../../nlp/embeddings-file.js';
import { roundedVector } from '../embed.js';
import { NonRetryableError } from '../non-retryable-error.js';
import type { Model } from './model.js';

/**
 * `embed`: the prompt as a 100-dimensional unit vector (the same as the documents pipeline's
 * embed stage). Output: { model, embedding, dimensions, embedding_model, embedding_words }.
 */
export const embed: Model = async (request, { signal }) => {
  const prompt = requirePrompt(request);
  const { vector, knownWords, model } = await embedText(prompt, signal);
  if (!vector) {
    throw new NonRetryableError('no word of the prompt is in the English embeddings vocabulary, so it has no embedding', 'UNEMBEDDABLE_TEXT');
  }
  return { model: 'embed', embedding: roundedVector(vector), dimensions: EMBEDDING_DIMENSIONS, embedding_model: model, embedding_words: knownWords };
};
