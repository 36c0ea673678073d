import type { ExtractOutput } from './extract.js';
import type { Processor } from './processor.js';
import { summarizeText } from '../text/summarize-text.js';

/** The `summarize` stage: an extractive summary of the extracted text, with the text's size. */
export const summarize: Processor = async (_payload, { input }) => {
  const { text, text_length, word_count } = input as ExtractOutput;
  const sentences = summarizeText(text, 3);
  return { summary: sentences.join(' '), sentences, text_length, word_count };
};
