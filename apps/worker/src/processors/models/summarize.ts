import { readSummaryLength, requirePrompt } from '@conveyor/shared';
import { summarizeText } from '../../text/summarize-text.js';
import type { Model } from './model.js';

/**
 * `summarize`: an extractive summary of the prompt. `params.sentences` (1 to 20, default 3) sets
 * its length. Output: { model, summary, sentences (in text order, each at most
 * MAX_SENTENCE_CHARACTERS, 1,000) }. Chinese and Japanese prompts are cut at 。！？ (see tokenize.ts).
 */
export const summarize: Model = async (request, { signal }) => {
  const prompt = requirePrompt(request);
  const count = readSummaryLength(request.params);
  const sentences = await summarizeText(prompt, count, signal);
  return { model: 'summarize', summary: sentences.join(' '), sentences };
};
