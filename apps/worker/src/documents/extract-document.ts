import { NonRetryableError } from '../processors/non-retryable-error.js';
import { claimedBinaryKind } from './claimed-type.js';
import { detectDocumentType } from './detect-type.js';
import { DOCUMENT_KIND_NAMES, DOCUMENT_TYPES } from './document-types.js';
import type { DocumentKind } from './document-types.js';
import { readContained, tooMuchText, type ContainedText, type ReadLimits } from './contained-read.js';
import { normalizeText } from './normalize-text.js';

export interface ExtractedDocument {
  text: string;
  /** MIME type of the format the bytes turned out to be. */
  detectedType: string;
  /** PDF only. */
  pageCount?: number;
}

export interface DocumentClaim {
  filename: string;
  /** What the client said; checked against the bytes, never trusted. */
  contentType: string;
}

/**
 * The text of a document in any supported format; anything else is an UNSUPPORTED_DOCUMENT. Every
 * format but plain text is read in a reader process, within `limits` (see readContained). A text
 * longer than `limits.maxTextLength` is a DOCUMENT_TOO_LARGE: it is what Redis holds with the job
 * for JOB_RETENTION, and a compressed format can unpack to far more text than the upload limit
 * lets a text file bring.
 */
export async function extractDocument(bytes: Buffer, claim: DocumentClaim, signal: AbortSignal, limits: ReadLimits): Promise<ExtractedDocument> {
  const detection = detectDocumentType(bytes, claim.filename);
  const claimed = claimedBinaryKind(claim.filename, claim.contentType);
  const uploadedAs = `"${claim.filename}" (${claim.contentType})`;
  if (detection.kind === 'unsupported') {
    throw new NonRetryableError(`${uploadedAs} is ${detection.description}; supported: PDF, DOCX, HTML, Markdown and plain text`, 'UNSUPPORTED_DOCUMENT');
  }
  if (claimed && claimed !== detection.kind) {
    throw new NonRetryableError(
      `${uploadedAs} was uploaded as ${DOCUMENT_KIND_NAMES[claimed]}, but its bytes are ${DOCUMENT_KIND_NAMES[detection.kind]}`,
      'UNSUPPORTED_DOCUMENT',
    );
  }

  let read: ContainedText;
  switch (detection.kind) {
    case 'pdf':
    case 'docx':
      read = await readContained({ kind: detection.kind, bytes }, signal, limits);
      break;
    case 'html':
    case 'markdown':
      read = await readContained({ kind: detection.kind, text: detection.text }, signal, limits);
      break;
    case 'text':
      read = { text: await normalizeText(detection.text, signal) };
      if (read.text.length > limits.maxTextLength) throw tooMuchText(uploadedAs, read.text.length, limits.maxTextLength);
      break;
  }
  if (!read.text) throw emptyDocument(uploadedAs, detection.kind);
  return { text: read.text, detectedType: DOCUMENT_TYPES[detection.kind], ...(read.pageCount === undefined ? {} : { pageCount: read.pageCount }) };
}

function emptyDocument(uploadedAs: string, kind: DocumentKind): NonRetryableError {
  if (kind === 'pdf') {
    return new NonRetryableError(`${uploadedAs} is a PDF with no text layer (a scan?); text recognition (OCR) is not supported`, 'UNSUPPORTED_DOCUMENT');
  }
  return new NonRetryableError(`${uploadedAs} is ${DOCUMENT_KIND_NAMES[kind]} with no text in it`, 'EMPTY_DOCUMENT');
}
