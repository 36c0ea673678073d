import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NonRetryableError } from '../processors/non-retryable-error.js';

/**
 * A document to read in a reader process: the bytes (PDF, DOCX) or the decoded text (HTML, Markdown).
 * Reading these can cost far more than their size: a PDF's Flate streams and a DOCX's ZIP unpack,
 * and Markdown and HTML parsers have inputs that take them quadratic time (400 kB of `_a` held
 * marked for 145 s). Plain text is read in the worker's own thread.
 */
export type ContainedInput = { kind: 'pdf' | 'docx'; bytes: Buffer } | { kind: 'html' | 'markdown'; text: string };
export type ContainedKind = ContainedInput['kind'];

export interface ReadLimits {
  /** The reader process's heap (DOCUMENT_READ_MEMORY), in MiB. */
  heapMiB: number;
  /** How long a read may take (DOCUMENT_READ_TIMEOUT), in ms. */
  timeoutMs: number;
  /**
   * The most characters of text a document may yield (MAX_DOCUMENT_TEXT). The reader holds to it,
   * so a worker never receives more: a text up to what the reader's heap holds, two at once, would
   * pass the worker's own heap limit.
   */
  maxTextLength: number;
}

export interface ContainedText {
  /** Normalized (see normalizeText). */
  text: string;
  pageCount?: number;
}

/**
 * Documents read at once by one worker process: each read takes a core while it runs and up to its
 * heap limit, so a worker's memory stays bounded (its own + 2 × DOCUMENT_READ_MEMORY, and about
 * 60 MB for each reader process itself) however many document jobs it holds. The others wait their
 * turn, their leases renewed meanwhile.
 */
export const MAX_READERS = 2;

/**
 * A reader process is kept for the next document (loading pdf.js into a new one took about 1.2 s)
 * until it has been idle this long, when its memory is given back.
 */
const IDLE_MS = 60_000;

/** What the reader process is asked: one document, by number, and the most text it may yield. */
export interface ReadRequest {
  id: number;
  input: ContainedInput;
  maxTextLength: number;
}

/** What it answers: the text, or why the document cannot be read (no retry can change that). */
export type ReaderAnswer = { ok: true; text: string; pageCount?: number } | { ok: false; message: string; code: string };
export type ReaderReply = { id: number } & ReaderAnswer;

export const KIND_NAMES: Record<ContainedKind, string> = { pdf: 'the PDF', docx: 'the Word document', html: 'the HTML', markdown: 'the Markdown' };

/** Why a document's text is refused: `what` (a file's name, a kind's name) yields `length` characters, over `maxTextLength`. */
export function tooMuchText(what: string, length: number, maxTextLength: number): NonRetryableError {
  return new NonRetryableError(
    `${what} holds ${length.toLocaleString('en-US')} characters of text, more than MAX_DOCUMENT_TEXT (${maxTextLength.toLocaleString('en-US')}) lets one document yield`,
    'DOCUMENT_TOO_LARGE',
  );
}

let reading = 0;
const waiting: Array<() => void> = [];
const idle: Array<{ reader: Reader; timer: NodeJS.Timeout }> = [];
let requests = 0;
let readersStarted = 0;

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

/** The reader's script: beside this file in dist/; run from the sources (the tests), the build's copy. */
function readerScript(): string {
  const beside = fileURLToPath(new URL('./reader-process.js', import.meta.url));
  return existsSync(beside) ? beside : beside.replace('/src/documents/', '/dist/documents/');
}

/** A reader process and the heap limit it was started with. */
interface Reader {
  process: ChildProcess;
  heapMiB: number;
}

/** An idle reader process with this heap limit, or a new one. */
function reader(heapMiB: number): Reader {
  const index = idle.findIndex((entry) => entry.reader.heapMiB === heapMiB);
  if (index >= 0) {
    const [{ reader: kept, timer }] = idle.splice(index, 1) as [{ reader: Reader; timer: NodeJS.Timeout }];
    clearTimeout(timer);
    kept.process.ref();
    kept.process.channel?.ref();
    return kept;
  }
  // Only the heap flag: the worker's own flags (a CPU profile, its NODE_OPTIONS heap) are not the reader's.
  // The worker's PID, for the reader to know it by: see reader-process.ts.
  const child = fork(readerScript(), [String(process.pid)], { execArgv: [`--max-old-space-size=${heapMiB}`], serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  const started = { process: child, heapMiB };
  readersStarted += 1;
  // A running read reports the process's failure; an idle one that fails leaves the pool.
  child.on('error', () => {});
  child.once('exit', () => {
    const at = idle.findIndex((entry) => entry.reader === started);
    if (at < 0) return;
    clearTimeout(idle[at]!.timer);
    idle.splice(at, 1);
  });
  return started;
}

/** Reader processes started by this process so far (a kept one reads the next document). */
export function readerProcessesStarted(): number {
  return readersStarted;
}

/** Keeps a reader that answered for the next read; it ends after IDLE_MS unused, and never holds the worker open. */
function keepIdle(kept: Reader): void {
  kept.process.unref();
  kept.process.channel?.unref();
  const entry = {
    reader: kept,
    timer: setTimeout(() => {
      idle.splice(idle.indexOf(entry), 1);
      kept.process.kill('SIGKILL');
    }, IDLE_MS).unref(),
  };
  idle.push(entry);
}

/**
 * Reads a document's text in a process of its own, with its own heap limit, within a time limit.
 * Reading is CPU work that holds its thread: in the worker's own, a small crafted file (a 1.4 MB
 * PDF whose stream unpacks to 420 MB) kept it busy for minutes and took gigabytes, with no lease
 * renewed, no health probe answered and no other job run meanwhile. Not a thread of the worker's:
 * a thread over its heap limit is stopped only when it gets there in small steps, and one string
 * larger than the limit (a 0.9 MB DOCX whose XML unpacks to 300 MB) ends the whole process, with
 * every job it holds. Here the worker goes on; a document that needs more memory or time fails
 * without retries, and the job's signal (a cancel, its timeout) ends the reader. At most
 * MAX_READERS read at once; a reader that answered reads the next document too.
 */
export async function readContained(input: ContainedInput, signal: AbortSignal, limits: ReadLimits): Promise<ContainedText> {
  signal.throwIfAborted();
  await readerTurn(signal);
  try {
    return await readInProcess(input, signal, limits);
  } finally {
    readerDone();
  }
}

function readInProcess(input: ContainedInput, signal: AbortSignal, limits: ReadLimits): Promise<ContainedText> {
  const name = KIND_NAMES[input.kind];
  const taken = reader(limits.heapMiB);
  const child = taken.process;
  const id = ++requests;
  return new Promise((resolve, reject) => {
    let settled = false;
    // A reader that answered is kept; one that failed, ran out of time or was aborted is ended.
    const settle = (outcome: () => void, keep = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      child.off('message', onMessage);
      child.off('error', onError);
      child.off('exit', onExit);
      if (keep) keepIdle(taken);
      else child.kill('SIGKILL');
      outcome();
    };
    const timer = setTimeout(
      () => settle(() => reject(new NonRetryableError(`reading ${name} took longer than ${limits.timeoutMs} ms (DOCUMENT_READ_TIMEOUT); it is large or built to be costly to read: raise the limit if it is a document you expect`, 'DOCUMENT_TOO_SLOW'))),
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
    const onError = (error: Error) => settle(() => reject(error));
    // V8 aborts a process that runs out of heap (SIGABRT); the kernel's OOM killer sends SIGKILL.
    const onExit = (code: number | null, exitSignal: NodeJS.Signals | null) =>
      settle(() =>
        reject(
          exitSignal === 'SIGABRT' || exitSignal === 'SIGKILL'
            ? new NonRetryableError(`${name} needs more than ${limits.heapMiB} MiB of memory to read (DOCUMENT_READ_MEMORY; its streams unpack to far more than its size?)`, 'DOCUMENT_TOO_LARGE')
            : new Error(`the process reading ${name} stopped (${exitSignal ?? `exit code ${code}`}) before it answered`),
        ),
      );
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('message', onMessage);
    child.once('error', onError);
    child.once('exit', onExit);
    child.send({ id, input, maxTextLength: limits.maxTextLength } satisfies ReadRequest);
  });
}
