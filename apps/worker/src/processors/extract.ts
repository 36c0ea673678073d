import type { DocumentPayload } from '@conveyor/shared';
import { extractDocument } from '../documents/extract-document.js';
import { countWords } from '../text/tokenize.js';
import { NonRetryableError } from './non-retryable-error.js';
import type { Processor } from './processor.js';

/**
 * The `extract` stage: the document's text. The format is detected from the bytes (PDF, DOCX,
 * HTML, Markdown, plain text); a document that is none of them, or not what its name or content
 * type claims, fails with UNSUPPORTED_DOCUMENT (EMPTY_DOCUMENT when there is no text at all). A
 * document whose reading needs more heap than `limits.memory` bytes fails with DOCUMENT_TOO_LARGE,
 * more time than `limits.timeoutMs` with DOCUMENT_TOO_SLOW, and one whose text is longer than
 * `limits.maxTextLength` characters with DOCUMENT_TOO_LARGE: that text is this stage's output, and
 * Redis holds it with the job for JOB_RETENTION (a compressed format can unpack to far more text
 * than the upload limit lets a text file bring).
 *
 * Output:
 *   detected_type  MIME type of the format found in the bytes
 *   claimed_type   the content type the client sent
 *   page_count     PDF only
 *   text_length    characters of text
 *   word_count     words of text
 *   text           the text, paragraphs separated by a blank line
 */
export interface ExtractOutput {
  detected_type: string;
  claimed_type: string;
  page_count?: number;
  text_length: number;
  word_count: number;
  text: string;
}

export const createExtract = (limits: { memory: number; timeoutMs: number; maxTextLength: number }): Processor => async (payload, { document, signal }) => {
  const { filename, content_type } = payload as DocumentPayload;
  const readLimits = { heapMiB: Math.ceil(limits.memory / (1024 * 1024)), timeoutMs: limits.timeoutMs };
  const { text, detectedType, pageCount } = await extractDocument(await document(), { filename, contentType: content_type }, signal, readLimits);
  if (text.length > limits.maxTextLength) {
    throw new NonRetryableError(
      `"${filename}" holds ${text.length.toLocaleString('en-US')} characters of text, more than MAX_DOCUMENT_TEXT (${limits.maxTextLength.toLocaleString('en-US')}) lets one document yield`,
      'DOCUMENT_TOO_LARGE',
    );
  }
  const output: ExtractOutput = {
    detected_type: detectedType,
    claimed_type: content_type,
    ...(pageCount === undefined ? {} : { page_count: pageCount }),
    text_length: text.length,
    word_count: await countWords(text, signal),
    text,
  };
  return output;
};
