import { summarizeText } from '../../text/summarize-text.js';
import { NonRetryableError } from '../non-retryable-error.js';
import type { Model } from './model.js';
import { requirePrompt } from './prompt.js';

/**
 * `summarize`: an extractive summary of the prompt. `params.sentences` (1 to 20, default 3) sets
 * its length. Output: { model, summary, sentences (in text order) }.
 */
export const summarize: Model = async (request, { signal }) => {
  const prompt = requirePrompt(request);
  const requested = request.params?.['sentences'] ?? 3;
  // Jobs XADDed by other producers carry params as strings.
  const count = typeof requested === 'string' && /^\d+$/.test(requested) ? Number(requested) : requested;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 20) {
    throw new NonRetryableError(`params.sentences must be a whole number from 1 to 20, got ${JSON.stringify(requested)}`, 'INVALID_PARAMS');
  }
  const sentences = await summarizeText(prompt, count, signal);
  return { model: 'summarize', summary: sentences.join(' '), sentences };
};
