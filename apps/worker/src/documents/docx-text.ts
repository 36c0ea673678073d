import { NonRetryableError } from '../processors/non-retryable-error.js';

/** The text of a Word (DOCX) document, one paragraph per block, via mammoth. */
export async function docxText(bytes: Buffer): Promise<string> {
  const { default: mammoth } = await import('mammoth');
  try {
    const { value } = await mammoth.extractRawText({ buffer: bytes });
    return value;
  } catch (error) {
    throw new NonRetryableError(`the Word document could not be read: ${(error as Error).message}`, 'UNSUPPORTED_DOCUMENT');
  }
}
