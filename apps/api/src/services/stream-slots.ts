import { ProblemError } from '../problems/problem-error.js';
import type { SseStream } from './sse-stream.js';

/**
 * The event streams (SSE) one API process holds open, at most MAX_EVENT_STREAMS of them. Each
 * holds a connection and up to 1 MiB its client has not read; without a limit one client could
 * open them until the process runs out of file descriptors or memory. A stream's place is taken
 * before it subscribes (several requests may be opening at once) and given back when it closes.
 */
export class StreamSlots {
  readonly open = new Set<SseStream>();
  #opening = 0;

  constructor(readonly max: number) {}

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  /** Whether every place is taken: the next reserve() is a 503. */
  get full(): boolean {
    return this.open.size + this.#opening >= this.max;
  }

  /** Takes a place for a stream about to open; the 503 problem when every place is taken. */
  reserve(): void {
    if (this.full) {
      throw new ProblemError(
        'too-many-streams',
        `This API process already holds ${this.max} event streams (MAX_EVENT_STREAMS). Close streams you no longer read and connect again after Retry-After seconds.`,
        { limit: this.max },
        { 'retry-after': '5' },
      );
    }
    this.#opening += 1;
  }

  /** The reserved place is kept by `stream` until it closes, or given back when the request ended without one. */
  settle(stream: SseStream | undefined): void {
    this.#opening -= 1;
    if (stream === undefined) return;
    this.open.add(stream);
    stream.onClose(() => this.open.delete(stream));
  }
}
