import { setImmediate as nextTurn } from 'node:timers/promises';

/** How long a walk over a text may hold the event loop before it gives it a turn. */
const SLICE_MS = 20;
/** Calls of `due` between two looks at the clock, when it is asked once per word or sentence. */
const CALLS_PER_LOOK = 256;

/**
 * Gives the event loop a turn every SLICE_MS of a long synchronous walk (the words or sentences
 * of a document's text), so the worker's other jobs, lease renewals and health probes go on
 * meanwhile, and stops the walk when `signal` aborts: summarizing 20 MB of text held a worker's
 * event loop for 2.4 s, and embedding it for 1.3 s.
 *
 *   if (turns.due()) await turns.take();
 */
export class EventLoopTurns {
  #calls = 0;
  #since = performance.now();

  /** `callsPerLook`: 1 for a walk whose steps are long themselves (a window of text). */
  constructor(
    private readonly signal?: AbortSignal,
    private readonly callsPerLook = CALLS_PER_LOOK,
  ) {}

  /** Whether the walk has held the event loop for a slice, and should `take` a turn. */
  due(): boolean {
    if (++this.#calls % this.callsPerLook !== 0) return false;
    return performance.now() - this.#since >= SLICE_MS;
  }

  /** Lets timers and I/O run, then throws if the job was aborted meanwhile. */
  async take(): Promise<void> {
    await nextTurn();
    this.signal?.throwIfAborted();
    this.#since = performance.now();
  }
}
