import { summarizeText } from '../text/summarize-text.js';
import type { Processor } from './processor.js';
import { stageText } from '../documents/stage-input.js';

/**
 * The `summarize` stage: an extractive summary. Passes its input forward (extract's or
 * analyze's output, without the text) and adds:
 *   summary     the summary sentences joined by spaces
 *   sentences   the SUMMARY_SENTENCES most central sentences, each as it stands in the text, in text order
 *               (one of more than MAX_SENTENCE_CHARACTERS, 1,000, cut there with '…': a text with no sentence
 *               end, such as a one-word base64 dump, was one sentence as long as itself)
 * Chinese and Japanese sentences end at 。！？ without a space after them (see tokenize.ts).
 */
export const SUMMARY_SENTENCES = 3;

export const summarize: Processor = async (_payload, helpers) => {
  const { text, previous } = await stageText(helpers.input, helpers, 'summarize');
  const sentences = await summarizeText(text, SUMMARY_SENTENCES, helpers.signal);
  return { ...previous, summary: sentences.join(' '), sentences };
};
