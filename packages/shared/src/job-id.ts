import { randomFillSync } from 'node:crypto';

/**
 * A job ID is `<queue>:<ULID>`: readable, sortable by creation time, and it routes to its
 * queue without a lookup. It stays the same through retries and stages. Jobs XADDed straight
 * into a stream by another producer are named `<queue>:<entry ID>` instead.
 */

/** Crockford's base 32, as ULIDs spell it. */
const LETTERS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_LETTERS = 10;
const RANDOM_LETTERS = 16;

/**
 * Monotonic ULIDs, as the `ulid` package's monotonicFactory makes them, at a fraction of its cost
 * (it was a twentieth of the API's CPU time on the batch path): the time part is spelled once per
 * millisecond, and within one millisecond the random part counts up by one from a fresh draw, so
 * the IDs one process makes sort in the order it made them. A clock that steps back keeps the
 * last time until it catches up.
 */
class UlidSource {
  readonly #random = new Uint8Array(RANDOM_LETTERS);
  readonly #pool = new Uint8Array(4_096);
  #poolOffset = this.#pool.length;
  #time = -1;
  #timePart = '';
  /** The random part but its last letter, and that letter's value. */
  #head = '';
  #last = 0;

  next(): string {
    const now = Date.now();
    if (now > this.#time) {
      this.#time = now;
      this.#timePart = spellTime(now);
      this.#draw();
    } else if (this.#last < LETTERS.length - 1) {
      this.#random[RANDOM_LETTERS - 1] = ++this.#last;
    } else {
      this.#carry();
    }
    return this.#timePart + this.#head + LETTERS[this.#last];
  }

  #draw(): void {
    // ULID's randomness from a pool filled 4 KiB at a time: one CSPRNG call per letter was a
    // tenth of the API's CPU time under load.
    for (let i = 0; i < RANDOM_LETTERS; i += 1) {
      if (this.#poolOffset === this.#pool.length) {
        randomFillSync(this.#pool);
        this.#poolOffset = 0;
      }
      this.#random[i] = this.#pool[this.#poolOffset++]! & 31;
    }
    this.#spell();
  }

  /** Counts the random part up by one where its last letter is already the highest. */
  #carry(): void {
    let i = RANDOM_LETTERS - 1;
    while (i >= 0 && this.#random[i] === LETTERS.length - 1) this.#random[i--] = 0;
    if (i < 0) throw new Error('ULID random part exhausted within one millisecond');
    this.#random[i]! += 1;
    this.#spell();
  }

  #spell(): void {
    let head = '';
    for (let i = 0; i < RANDOM_LETTERS - 1; i += 1) head += LETTERS[this.#random[i]!];
    this.#head = head;
    this.#last = this.#random[RANDOM_LETTERS - 1]!;
  }
}

function spellTime(ms: number): string {
  let text = '';
  for (let i = 0; i < TIME_LETTERS; i += 1) {
    text = LETTERS[ms % 32]! + text;
    ms = Math.floor(ms / 32);
  }
  return text;
}

const ulids = new UlidSource();

export function newJobId(queue: string): string {
  return `${queue}:${ulids.next()}`;
}

/**
 * The ID of a job XADDed straight into a stage stream by another producer, named after its entry
 * (as directJobs.lua names it): entry IDs are unique per stream only, so the name says which
 * stream unless it is the first stage's normal lane.
 */
export function directJobId(queue: string, firstStage: string, stage: string, lane: string, entryId: string): string {
  if (stage !== firstStage) return `${queue}:${stage}:${lane}:${entryId}`;
  return lane === 'normal' ? `${queue}:${entryId}` : `${queue}:${lane}:${entryId}`;
}

/** The most bytes of a job ID: the API's routes take path segments of 100 characters at most. */
const MAX_JOB_ID_BYTES = 100;

/**
 * The job an entry's reserved `job` field names, or undefined. Conveyor writes it with an ID of
 * the stream's own queue (`<queue>:<id>`), at most 100 bytes of UTF-8 with no spaces or control
 * characters: the worker's job lines and the API's routes rely on that. Any other value is another
 * producer's misuse of the field, and the entry is then that producer's plain entry, named after
 * its entry ID. (namedJobId in directJobs.lua applies the same rule; its character classes are
 * these bytes. Bytes that are not UTF-8 reach here as U+FFFD, which an ID therefore may not hold.)
 */
export function namedJobId(queue: string, value: string | undefined): string | undefined {
  if (value === undefined || value.length <= queue.length + 1 || !value.startsWith(`${queue}:`)) return undefined;
  if (/[\x00-\x20\x7f\ufffd]/.test(value) || Buffer.byteLength(value) > MAX_JOB_ID_BYTES) return undefined;
  return value;
}

/** The queue a job ID belongs to, or undefined when the ID has no queue part. */
export function queueOfJobId(jobId: string): string | undefined {
  const separator = jobId.indexOf(':');
  if (separator <= 0 || separator === jobId.length - 1) return undefined;
  return jobId.slice(0, separator);
}
