import { parentPort } from 'node:worker_threads';
import { NonRetryableError } from '../processors/non-retryable-error.js';
import { KIND_NAMES, type ContainedInput, type ReaderAnswer, type ReaderReply, type ReadRequest } from './contained-read.js';
import { docxText } from './docx-text.js';
import { htmlText } from './html-text.js';
import { markdownText } from './markdown-text.js';
import { normalizeText } from './normalize-text.js';
import { pdfText } from './pdf-text.js';

// The thread readContained starts: reads the documents it is sent, one at a time, and answers
// each with its normalized text, or why it cannot be read. Reading the same bytes again fails the
// same way, so no failure here is retried. readContained ends the thread when a read is aborted or
// takes too long, and when it has been idle a while.
async function read(input: ContainedInput): Promise<ReaderAnswer> {
  try {
    switch (input.kind) {
      case 'pdf': {
        const pdf = await pdfText(bytesOf(input.bytes), new AbortController().signal);
        return { ok: true, text: normalizeText(pdf.text), pageCount: pdf.pageCount };
      }
      case 'docx':
        return { ok: true, text: normalizeText(await docxText(bytesOf(input.bytes))) };
      case 'html':
        return { ok: true, text: normalizeText(htmlText(input.text)) };
      case 'markdown':
        return { ok: true, text: normalizeText(markdownText(input.text)) };
    }
  } catch (error) {
    if (error instanceof NonRetryableError) return { ok: false, message: error.message, code: error.code };
    // The first line: parsers add advice meant for their own developers after it.
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return { ok: false, message: `${KIND_NAMES[input.kind]} cannot be read: ${reason}`, code: 'UNSUPPORTED_DOCUMENT' };
  }
}

/** The Buffer view of the bytes the thread was handed (a Buffer sent to a thread arrives as a Uint8Array). */
function bytesOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

parentPort!.on('message', async ({ id, input }: ReadRequest) => {
  const reply: ReaderReply = { id, ...(await read(input)) };
  parentPort!.postMessage(reply);
});
