import { requirePrompt } from '@conveyor/shared';
import { textSentiment } from '../../nlp/text-sentiment.js';
import type { Model } from './model.js';

/**
 * `sentiment`: how positive the prompt is, from wink's English model (negation-aware).
 * Output: { model, score: -1..1, label: positive | neutral | negative, sentence_count }.
 */
export const sentiment: Model = async (request, { signal }) => {
  const prompt = requirePrompt(request);
  return { model: 'sentiment', ...(await textSentiment(prompt, signal)) };
};
