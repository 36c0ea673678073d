import { setTimeout as sleep } from 'node:timers/promises';

export interface Drained {
  /** Jobs per second between the first completion seen and the last. */
  perSecond: number;
  /** From the call to the last completion, ms. */
  elapsedMs: number;
}

/**
 * Polls a completed-jobs counter until it reaches `total`, and measures the rate from the first
 * completion seen (so process start-up does not count) to the last. Fails after `timeoutMs`
 * without progress.
 */
export async function watchCompletions(
  completed: () => Promise<number>,
  total: number,
  report: (done: number) => void,
  timeoutMs = 60_000,
): Promise<Drained> {
  const started = performance.now();
  let first: { at: number; done: number } | undefined;
  let last = { at: started, done: 0 };
  let lastReport = started;
  for (;;) {
    const done = await completed();
    const now = performance.now();
    if (done > last.done) last = { at: now, done };
    if (!first && done > 0) first = { at: now, done };
    if (now - lastReport > 2_000) {
      report(done);
      lastReport = now;
    }
    if (done >= total) break;
    if (now - last.at > timeoutMs) throw new Error(`no job completed for ${timeoutMs} ms (${done} of ${total} done)`);
    await sleep(20);
  }
  const span = (last.at - first!.at) / 1_000;
  // A run so short that one poll saw all of it falls back to the whole time since the call.
  const perSecond = span > 0 ? (last.done - first!.done) / span : total / ((last.at - started) / 1_000);
  return { perSecond, elapsedMs: last.at - started };
}
