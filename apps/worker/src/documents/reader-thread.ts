import { parentPort, workerData } from 'node:worker_threads';
import { NonRetryableError } from '../processors/non-retryable-error.js';
import { KIND_NAMES, type ContainedInput, type ReaderReply } from './contained-read.js';
import { docxText } from './docx-text.js';
import { htmlText } from './html-text.js';
import { markdownText } from './markdown-text.js';
import { normalizeText } from './normalize-text.js';
import { pdfText } from './pdf-text.js';

// The thread readContained starts: reads one document and posts its normalized text, or why it
// cannot be read. Reading the same bytes again fails the same way, so no failure here is retried.
// readContained ends the thread when the job is aborted or the read takes too long.
const input = workerData as { kind: ContainedInput['kind']; bytes?: Uint8Array; text?: string };

async function read(): Promise<ReaderReply> {
  try {
    switch (input.kind) {
      case 'pdf': {
        const { text, pageCount } = await pdfText(bytesOf(input.bytes!), new AbortController().signal);
        return { ok: true, text: normalizeText(text), pageCount };
      }
      case 'docx':
        return { ok: true, text: normalizeText(await docxText(bytesOf(input.bytes!))) };
      case 'html':
        return { ok: true, text: normalizeText(htmlText(input.text!)) };
      case 'markdown':
        return { ok: true, text: normalizeText(markdownText(input.text!)) };
    }
  } catch (error) {
    if (error instanceof NonRetryableError) return { ok: false, message: error.message, code: error.code };
    // The first line: parsers add advice meant for their own developers after it.
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return { ok: false, message: `${KIND_NAMES[input.kind]} cannot be read: ${reason}`, code: 'UNSUPPORTED_DOCUMENT' };
  }
}

/** The Buffer view of the bytes the thread was handed (a structured clone arrives as a Uint8Array). */
function bytesOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

parentPort!.postMessage(await read());
