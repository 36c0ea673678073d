import { claimConsumer, unclaimConsumer, type Logger, type RedisClient } from '@conveyor/shared';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** While it waits for the name longer than a crashed holder keeps it, a worker warns, then says so at error level this often. */
const WAITING_REPORT_MS = 60_000;

/**
 * This process's claim on its consumer name (see claimConsumer.lua). Two live workers under one
 * name would take each other's jobs, so a worker that finds its name held by another waits,
 * not ready, until that one stops (it gives the name up) or its claim lapses (a crashed one's,
 * within the claim's lifetime). The claim is renewed on a timer of its own; a worker that finds
 * its name taken meanwhile (its claim lapsed while its event loop or Redis stood still, and
 * another process took the name) is told, and stops.
 */
export class ConsumerClaim {
  readonly #token = randomUUID();
  #timer: NodeJS.Timeout | undefined;
  #waiting = false;
  /** Whether the wait has outlasted a crashed holder's claim: a live worker holds the name. */
  #heldByLive = false;

  /**
   * `ttlMs`: how long a claim lasts unrenewed (it is renewed every third of it), and so how long
   * a crashed worker's name stays held. `onLost` is called once if another process takes the name.
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    readonly consumer: string,
    readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly onLost: (message: string) => void,
  ) {}

  /** True while the worker waits for another process to give up its name. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** What it waits for, as /readyz says it. */
  get waitingFor(): string {
    return this.#heldByLive
      ? `for another live worker process to give up the consumer name ${this.consumer}`
      : `for another worker process to give up the consumer name ${this.consumer} (a crashed one's claim lapses within ${this.crashedHoldsMs} ms)`;
  }

  /** The longest a crashed process's claim holds the name: its lifetime, and half again for the wait after it lapses. */
  get crashedHoldsMs(): number {
    return this.ttlMs * 1.5;
  }

  /**
   * Resolves once this process holds its name, and keeps it from then on. `claim` runs one try
   * (the worker runs it until Redis takes it); `stopped` says the worker was told to stop, and
   * the wait ends with `stop`'s own error.
   */
  async take(claim: (step: () => Promise<number>) => Promise<number>, stopped: () => Error | undefined): Promise<void> {
    const since = Date.now();
    let reportedAt = -Infinity;
    // Once it has found the name held, a free name is taken only when it is still free after
    // longer than the holder takes to renew: a holder whose renewal waited on a stalled Redis,
    // which let the claim lapse, or on a Redis that lost the key, renews it first and keeps it.
    let seenHeld = false;
    let freeSince: number | undefined;
    for (;;) {
      const take = !seenHeld || (freeSince !== undefined && Date.now() - freeSince >= this.ttlMs / 2);
      const othersMs = await claim(() => claimConsumer(this.redis, this.prefix, this.consumer, this.#token, this.ttlMs, take));
      if (othersMs === 0) break;
      if (othersMs === -1) {
        freeSince ??= Date.now();
      } else {
        seenHeld = true;
        freeSince = undefined;
        this.#waiting = true;
        const now = Date.now();
        if (reportedAt === -Infinity) {
          // A worker restarted at once under its stable name (a StatefulSet pod after a crash) finds its predecessor's claim: no fault.
          this.logger.info(
            { consumer: this.consumer },
            `the consumer name "${this.consumer}" is held by another worker process: one that crashed (its claim lapses within ${this.crashedHoldsMs} ms), or a live one. Waiting, not ready`,
          );
          reportedAt = now;
        } else if (now - since > this.crashedHoldsMs && now - reportedAt >= (this.#heldByLive ? WAITING_REPORT_MS : 0)) {
          // Held longer than a crashed process holds it: a live one has it.
          this.logger[this.#heldByLive ? 'error' : 'warn'](
            { consumer: this.consumer, waited_ms: now - since },
            `another live worker process uses the consumer name "${this.consumer}" (CONSUMER_NAME, or host-pid by default): two under one name take each other's jobs. Waiting, not ready, until it stops; give every worker a name of its own`,
          );
          this.#heldByLive = true;
          reportedAt = now;
        }
      }
      await sleep(othersMs === -1 ? this.ttlMs / 2 : Math.min(othersMs, this.ttlMs / 3));
      const stop = stopped();
      if (stop) throw stop;
    }
    if (this.#waiting) this.logger.info({ consumer: this.consumer, waited_ms: Date.now() - since }, 'consumer name free again: starting');
    this.#waiting = false;
    this.#heldByLive = false;
    this.#keep();
  }

  #keep(): void {
    this.#timer = setTimeout(() => {
      claimConsumer(this.redis, this.prefix, this.consumer, this.#token, this.ttlMs).then(
        (othersMs) => {
          if (this.#timer === undefined) return;
          if (othersMs === 0) return this.#keep();
          this.#timer = undefined;
          this.onLost(
            `another worker process took the consumer name "${this.consumer}" while this one's claim was gone (its event loop or Redis stood still for over ${this.ttlMs} ms, or Redis lost the key): two under one name take each other's jobs, so this one stops. Give every worker a name of its own (CONSUMER_NAME)`,
          );
        },
        (error: Error) => {
          // Redis away or refusing: the claim is taken again when it answers, if no one took it.
          this.logger.debug({ err: error.message }, 'could not renew the claim on the consumer name');
          if (this.#timer !== undefined) this.#keep();
        },
      );
    }, this.ttlMs / 3);
    this.#timer.unref();
  }

  /** Stops renewing, and gives the name up for the next process under it (best effort: a claim not given up lapses). */
  async release(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await unclaimConsumer(this.redis, this.prefix, this.consumer, this.#token).catch(() => undefined);
  }
}
