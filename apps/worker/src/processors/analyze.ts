import { analyzeText } from '../nlp/analyze-text.js';
import type { TextAnalysis } from '../nlp/analyze-text.js';
import type { ExtractOutput } from './extract.js';
import type { Processor } from './processor.js';
import { stageText } from '../documents/stage-input.js';

/**
 * The `analyze` stage: what the text is about. Passes the extract output forward (without the
 * text, which stays in extract's output) and adds:
 *   language        { code: ISO 639-1 or null, confidence: 0..1, reliable }
 *   word_count, sentence_count
 *   keywords        up to 10 { term, count, score (best = 1) }, by TF-IDF against general English
 *   entities        up to 50 { text, type, count }, most frequent first (English only)
 *   sentiment       { score: -1..1, label: positive | neutral | negative }, null unless English
 */
export type AnalyzeOutput = Omit<ExtractOutput, 'text'> & TextAnalysis;

export const analyze: Processor = async (_payload, helpers) => {
  const { text, previous } = await stageText(helpers.input, helpers, 'analyze');
  await helpers.progress(10, 'analyzing');
  const analysis = await analyzeText(text, helpers.signal);
  return { ...previous, ...analysis };
};
