import { Worker } from 'node:worker_threads';
import { NonRetryableError } from '../processors/non-retryable-error.js';
import { KIND_NAMES, tooMuchText, type ContainedInput, type ReaderAnswer, type ReaderReply, type ReadRequest } from './contained-read.js';
import { docxText } from './docx-text.js';
import { htmlText } from './html-text.js';
import { markdownText } from './markdown-text.js';
import { normalizeText } from './normalize-text.js';
import { pdfText } from './pdf-text.js';

// The process readContained starts (with its own heap limit, DOCUMENT_READ_MEMORY): reads the
// documents it is sent, one at a time, and answers each with its normalized text, or why it cannot
// be read. Reading the same bytes again fails the same way, so no failure here is retried.
// readContained ends the process when a read is aborted or takes too long, and when it has been
// idle a while; running out of heap ends it too.
async function read(input: ContainedInput): Promise<ReaderAnswer> {
  try {
    switch (input.kind) {
      case 'pdf': {
        const pdf = await pdfText(bytesOf(input.bytes), new AbortController().signal);
        return { ok: true, text: await normalizeText(pdf.text), pageCount: pdf.pageCount };
      }
      case 'docx':
        return { ok: true, text: await normalizeText(await docxText(bytesOf(input.bytes))) };
      case 'html':
        return { ok: true, text: await normalizeText(htmlText(input.text)) };
      case 'markdown':
        return { ok: true, text: await normalizeText(markdownText(input.text)) };
    }
  } catch (error) {
    if (error instanceof NonRetryableError) return { ok: false, message: error.message, code: error.code };
    // The first line: parsers add advice meant for their own developers after it.
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return { ok: false, message: `${KIND_NAMES[input.kind]} cannot be read: ${reason}`, code: 'UNSUPPORTED_DOCUMENT' };
  }
}

/** The Buffer view of the bytes the process was handed (a Buffer may arrive as a Uint8Array). */
function bytesOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The answer, held to `maxTextLength` here: a text over it is not sent to the worker at all. */
async function answer(input: ContainedInput, maxTextLength: number): Promise<ReaderAnswer> {
  const answered = await read(input);
  if (!answered.ok || answered.text.length <= maxTextLength) return answered;
  const { message, code } = tooMuchText(KIND_NAMES[input.kind], answered.text.length, maxTextLength);
  return { ok: false, message, code };
}

/**
 * The worker that started this reader, by the PID it passed: not this process's parent as it is
 * found here, after the imports above, which took seconds on a busy machine. A worker killed
 * meanwhile had its reader adopted by then, and the reader took its new parent for its worker:
 * it read the request already in its channel, for minutes, and never ended.
 */
const workerPid = Number(process.argv[2]) || process.ppid;
const workerGone = (): boolean => process.ppid !== workerPid;

process.on('message', async ({ id, input, maxTextLength }: ReadRequest) => {
  if (workerGone()) process.exit(0);
  const reply: ReaderReply = { id, ...(await answer(input, maxTextLength)) };
  process.send!(reply);
});
// The worker gone (killed, crashed), its reader has no one to answer: it ends with it.
process.on('disconnect', () => process.exit(0));
if (workerGone()) process.exit(0);
// A read can hold this process's event loop for as long as DOCUMENT_READ_TIMEOUT, or longer when
// the worker that would end it was killed (SIGKILL) meanwhile: `disconnect` waits behind the read,
// and a reader ran on for 3 minutes at full CPU. A thread of its own checks every second that the
// worker is still its parent, and ends the process when not.
new Worker(
  `const { workerData } = require('node:worker_threads');
  setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, 'SIGKILL'); }, 1000);`,
  { eval: true, workerData: workerPid },
).unref();
