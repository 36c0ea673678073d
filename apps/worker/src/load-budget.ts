/**
 * How many bytes of stored job data (documents, earlier stages' outputs) a worker's running jobs
 * may have loaded at once. A long document costs several times its size while a stage works on
 * it (its bytes, its text, the text in pieces, the output sent back), so CONCURRENCY jobs of 20 MiB
 * each could take gigabytes: past the budget, a job waits until earlier ones give theirs back.
 * Jobs are let in in the order they asked, so a large one is not passed over forever; a job larger
 * than the whole budget runs when it is the only one. Small loads (under SMALL_LOAD_BYTES) do not
 * count: the job runner does not ask for them, so they are never kept waiting.
 */
export const SMALL_LOAD_BYTES = 1024 * 1024;

export class LoadBudget {
  #used = 0;
  #running = 0;
  readonly #waiting: Array<{ bytes: number; admit: () => void }> = [];

  constructor(readonly bytes: number) {}

  /** Bytes taken by running jobs now. */
  get used(): number {
    return this.#used;
  }

  /** Jobs waiting for their share. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves, with the function that gives the share back, once `bytes` fit; rejects with
   * `signal`'s reason if it aborts first.
   */
  async take(bytes: number, signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.#waiting.length > 0 || !this.#fits(bytes)) {
      await new Promise<void>((resolve, reject) => {
        const entry = { bytes, admit: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        } };
        const onAbort = () => {
          this.#waiting.splice(this.#waiting.indexOf(entry), 1);
          reject(signal.reason);
          this.#admit();
        };
        this.#waiting.push(entry);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    } else {
      this.#start(bytes);
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#used -= bytes;
      this.#running -= 1;
      this.#admit();
    };
  }

  #fits(bytes: number): boolean {
    return this.#running === 0 || this.#used + bytes <= this.bytes;
  }

  #start(bytes: number): void {
    this.#used += bytes;
    this.#running += 1;
  }

  /** Lets in the waiting jobs that fit now, in order. */
  #admit(): void {
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0]!.bytes)) {
      const next = this.#waiting.shift()!;
      this.#start(next.bytes);
      next.admit();
    }
  }
}
