import { parentPort, workerData } from 'node:worker_threads';
import { NonRetryableError } from '../processors/non-retryable-error.js';
import type { ContainedKind, ReaderReply } from './contained-read.js';
import { docxText } from './docx-text.js';
import { pdfText } from './pdf-text.js';

// The thread readContained starts: reads one document and posts its text, or why it cannot be
// read. readContained ends the thread when the job is aborted.
const { kind, bytes } = workerData as { kind: ContainedKind; bytes: Uint8Array };

async function read(): Promise<ReaderReply> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (kind === 'docx') return { ok: true, text: await docxText(buffer) };
    const { text, pageCount } = await pdfText(buffer, new AbortController().signal);
    return { ok: true, text, pageCount };
  } catch (error) {
    const retryable = !(error instanceof NonRetryableError);
    return { ok: false, message: error instanceof Error ? error.message : String(error), code: retryable ? undefined : (error as NonRetryableError).code, retryable };
  }
}

parentPort!.postMessage(await read());
