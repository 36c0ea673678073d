import type { DocumentPayload } from '@conveyor/shared';
import { NonRetryableError } from './non-retryable-error.js';
import type { Processor } from './processor.js';
import { words } from '../text/tokenize.js';

export interface ExtractOutput {
  /** The document's text. */
  text: string;
  /** The type the bytes turned out to be. */
  detected_type: string;
  text_length: number;
  word_count: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The `extract` stage: the document's text and its size. Plain text and Markdown (UTF-8). */
export const extract: Processor = async (payload, { document }) => {
  const { filename } = payload as DocumentPayload;
  const bytes = await document();
  let text: string;
  try {
    if (bytes.includes(0)) throw new Error('binary');
    text = utf8.decode(bytes);
  } catch {
    throw new NonRetryableError(`"${filename}" is not UTF-8 text, and no other document type is supported yet`, 'UNSUPPORTED_DOCUMENT');
  }
  text = text.replace(/^\uFEFF/, '');
  const output: ExtractOutput = { text, detected_type: 'text/plain', text_length: text.length, word_count: words(text).length };
  return output;
};
