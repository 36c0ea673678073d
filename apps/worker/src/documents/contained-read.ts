import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { NonRetryableError } from '../processors/non-retryable-error.js';

/**
 * A document to read in a thread: the bytes (PDF, DOCX) or the decoded text (HTML, Markdown).
 * Reading these can cost far more than their size: a PDF's Flate streams and a DOCX's ZIP unpack,
 * and Markdown and HTML parsers have inputs that take them quadratic time (400 kB of `_a` held
 * marked for 145 s). Plain text is read in the worker's own thread.
 */
export type ContainedInput = { kind: 'pdf' | 'docx'; bytes: Buffer } | { kind: 'html' | 'markdown'; text: string };
export type ContainedKind = ContainedInput['kind'];

export interface ReadLimits {
  /** The reading thread's heap (DOCUMENT_READ_MEMORY), in MiB. */
  heapMiB: number;
  /** How long a read may take (DOCUMENT_READ_TIMEOUT), in ms. */
  timeoutMs: number;
}

export interface ContainedText {
  /** Normalized (see normalizeText). */
  text: string;
  pageCount?: number;
}

/**
 * Documents read at once by one worker process: each read takes a core while it runs and up to its
 * heap limit, so a worker's memory stays bounded (its own + 2 × DOCUMENT_READ_MEMORY) however many
 * document jobs it holds. The others wait their turn, their leases renewed meanwhile.
 */
export const MAX_READERS = 2;

/**
 * A reader thread is kept for the next document (loading pdf.js into a new thread took about
 * 1.2 s) until it has been idle this long, when its memory is given back.
 */
const IDLE_MS = 60_000;

/** What the reader thread is asked: one document, by number. */
export interface ReadRequest {
  id: number;
  input: ContainedInput;
}

/** What it answers: the text, or why the document cannot be read (no retry can change that). */
export type ReaderAnswer = { ok: true; text: string; pageCount?: number } | { ok: false; message: string; code: string };
export type ReaderReply = { id: number } & ReaderAnswer;

export const KIND_NAMES: Record<ContainedKind, string> = { pdf: 'the PDF', docx: 'the Word document', html: 'the HTML', markdown: 'the Markdown' };

let reading = 0;
const waiting: Array<() => void> = [];
const idle: Array<{ thread: Worker; timer: NodeJS.Timeout }> = [];
let requests = 0;
let started = 0;

/** Resolves once a reader may start (at once if fewer than MAX_READERS run); rejects when `signal` aborts first. */
function readerTurn(signal: AbortSignal): Promise<void> {
  if (reading < MAX_READERS) {
    reading += 1;
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      waiting.splice(waiting.indexOf(start), 1);
      reject(signal.reason);
    };
    const start = () => {
      signal.removeEventListener('abort', onAbort);
      reading += 1;
      resolve();
    };
    waiting.push(start);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function readerDone(): void {
  reading -= 1;
  waiting.shift()?.();
}

/** The thread's script: beside this file in dist/; run from the sources (the tests), the build's copy. */
function readerScript(): URL {
  const beside = new URL('./reader-thread.js', import.meta.url);
  return existsSync(fileURLToPath(beside)) ? beside : new URL(beside.href.replace('/src/documents/', '/dist/documents/'));
}

/** An idle reader thread with this heap limit, or a new one. */
function readerThread(heapMiB: number): Worker {
  const index = idle.findIndex(({ thread }) => thread.resourceLimits?.maxOldGenerationSizeMb === heapMiB);
  if (index >= 0) {
    const [{ thread, timer }] = idle.splice(index, 1) as [{ thread: Worker; timer: NodeJS.Timeout }];
    clearTimeout(timer);
    thread.ref();
    return thread;
  }
  const thread = new Worker(readerScript(), { resourceLimits: { maxOldGenerationSizeMb: heapMiB } });
  started += 1;
  // A running read reports the thread's failure; an idle thread that fails leaves the pool.
  thread.on('error', () => {});
  thread.once('exit', () => {
    const index = idle.findIndex((entry) => entry.thread === thread);
    if (index < 0) return;
    clearTimeout(idle[index]!.timer);
    idle.splice(index, 1);
  });
  return thread;
}

/** Reader threads started by this process so far (a kept thread reads the next document). */
export function readerThreadsStarted(): number {
  return started;
}

/** Keeps a thread that answered for the next read; it ends after IDLE_MS unused, and never holds the process open. */
function keepIdle(thread: Worker): void {
  thread.unref();
  const entry = {
    thread,
    timer: setTimeout(() => {
      idle.splice(idle.indexOf(entry), 1);
      void thread.terminate();
    }, IDLE_MS).unref(),
  };
  idle.push(entry);
}

/**
 * Reads a document's text in a thread with a heap of its own, within a time limit. Reading is CPU
 * work that holds its thread: in the worker's own, a small crafted file (a 1.4 MB PDF whose
 * stream unpacks to 420 MB) kept it busy for minutes and took gigabytes, with no lease renewed,
 * no health probe answered and no other job run meanwhile. Here the worker goes on; a document
 * that needs more memory or time fails without retries, and the job's signal (a cancel, its
 * timeout) ends the thread. At most MAX_READERS read at once; a thread that answered reads the
 * next document too.
 */
export async function readContained(input: ContainedInput, signal: AbortSignal, limits: ReadLimits): Promise<ContainedText> {
  signal.throwIfAborted();
  await readerTurn(signal);
  try {
    return await readInThread(input, signal, limits);
  } finally {
    readerDone();
  }
}

function readInThread(input: ContainedInput, signal: AbortSignal, limits: ReadLimits): Promise<ContainedText> {
  const name = KIND_NAMES[input.kind];
  const thread = readerThread(limits.heapMiB);
  const id = ++requests;
  return new Promise((resolve, reject) => {
    let settled = false;
    // A thread that answered is kept; one that failed, ran out of time or was aborted is ended.
    const settle = (outcome: () => void, keep = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      thread.off('message', onMessage);
      thread.off('error', onError);
      thread.off('exit', onExit);
      if (keep) keepIdle(thread);
      else void thread.terminate();
      outcome();
    };
    const timer = setTimeout(
      () => settle(() => reject(new NonRetryableError(`reading ${name} took longer than ${limits.timeoutMs} ms (DOCUMENT_READ_TIMEOUT); it is built to be costly to read, or needs a larger limit`, 'DOCUMENT_TOO_SLOW'))),
      limits.timeoutMs,
    );
    const onAbort = () => settle(() => reject(signal.reason));
    const onMessage = (reply: ReaderReply) => {
      if (reply.id !== id) return;
      settle(() => {
        if (reply.ok) resolve(reply.pageCount === undefined ? { text: reply.text } : { text: reply.text, pageCount: reply.pageCount });
        else reject(new NonRetryableError(reply.message, reply.code));
      }, true);
    };
    const onError = (error: Error & { code?: string }) =>
      settle(() =>
        reject(
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new NonRetryableError(`${name} needs more than ${limits.heapMiB} MiB of memory to read (DOCUMENT_READ_MEMORY; its streams unpack to far more than its size?)`, 'DOCUMENT_TOO_LARGE')
            : error,
        ),
      );
    const onExit = (code: number) => settle(() => reject(new Error(`the thread reading ${name} stopped (exit code ${code}) before it answered`)));
    signal.addEventListener('abort', onAbort, { once: true });
    thread.on('message', onMessage);
    thread.once('error', onError);
    thread.once('exit', onExit);
    thread.postMessage({ id, input } satisfies ReadRequest);
  });
}
