import type { DocumentPayload } from '@conveyor/shared';
import { extractDocument } from '../documents/extract-document.js';
import { countWords } from '../text/tokenize.js';
import type { Processor } from './processor.js';

/**
 * The `extract` stage: the document's text. The format is detected from the bytes (PDF, DOCX,
 * HTML, Markdown, plain text); a document that is none of them, or not what its name or content
 * type claims, fails with UNSUPPORTED_DOCUMENT (EMPTY_DOCUMENT when there is no text at all). A
 * document whose reading needs more heap than `limits.memory` bytes fails with DOCUMENT_TOO_LARGE,
 * more time than `limits.timeoutMs` with DOCUMENT_TOO_SLOW, and one whose text is longer than
 * `limits.maxTextLength` characters with DOCUMENT_TOO_LARGE (see extractDocument).
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
  const readLimits = { heapMiB: Math.ceil(limits.memory / (1024 * 1024)), timeoutMs: limits.timeoutMs, maxTextLength: limits.maxTextLength };
  const { text, detectedType, pageCount } = await extractDocument(await document(), { filename, contentType: content_type }, signal, readLimits);
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
