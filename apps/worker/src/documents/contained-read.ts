import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { NonRetryableError } from '../processors/non-retryable-error.js';

/** Formats whose bytes can unpack into far more (a PDF's Flate streams, a DOCX's ZIP). */
export type ContainedKind = 'pdf' | 'docx';

export interface ContainedText {
  text: string;
  pageCount?: number;
}

/** What the reader thread posts back. */
export type ReaderReply = { ok: true; text: string; pageCount?: number } | { ok: false; message: string; code: string | undefined; retryable: boolean };

const KIND_NAMES: Record<ContainedKind, string> = { pdf: 'the PDF', docx: 'the Word document' };

/** The thread's script: beside this file in dist/; run from the sources (the tests), the build's copy. */
function readerScript(): URL {
  const beside = new URL('./reader-thread.js', import.meta.url);
  return existsSync(fileURLToPath(beside)) ? beside : new URL(beside.href.replace('/src/documents/', '/dist/documents/'));
}

/**
 * Reads a PDF's or DOCX's text in a thread with a heap of its own (`heapMiB`,
 * DOCUMENT_READ_MEMORY). Parsing them
 * is CPU work that holds the event loop, and a small crafted file (a 1.4 MB PDF whose stream
 * unpacks to 420 MB) keeps it busy for minutes and takes gigabytes: in the worker's own thread no
 * lease is renewed, no health probe answered and no other job runs meanwhile. Here the worker goes
 * on; a document that needs more memory fails without retries, and the job's signal (a cancel, its
 * timeout) ends the thread.
 */
export function readContained(kind: ContainedKind, bytes: Buffer, signal: AbortSignal, heapMiB: number): Promise<ContainedText> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const thread = new Worker(readerScript(), { workerData: { kind, bytes }, resourceLimits: { maxOldGenerationSizeMb: heapMiB } });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      outcome();
      void thread.terminate();
    };
    const onAbort = () => settle(() => reject(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    thread.once('message', (reply: ReaderReply) =>
      settle(() => {
        if (reply.ok) resolve(reply.pageCount === undefined ? { text: reply.text } : { text: reply.text, pageCount: reply.pageCount });
        else reject(reply.retryable ? new Error(reply.message) : new NonRetryableError(reply.message, reply.code));
      }),
    );
    thread.once('error', (error: Error & { code?: string }) =>
      settle(() =>
        reject(
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new NonRetryableError(`${KIND_NAMES[kind]} needs more than ${heapMiB} MiB of memory to read (DOCUMENT_READ_MEMORY; its streams unpack to far more than its size?)`, 'DOCUMENT_TOO_LARGE')
            : error,
        ),
      ),
    );
    thread.once('exit', (code) => settle(() => reject(new Error(`the thread reading ${KIND_NAMES[kind]} stopped (exit code ${code}) before it answered`))));
  });
}
