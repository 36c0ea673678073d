/**
 * The longest time timers waited while `work` ran (a timer every 5 ms), and what it gave or threw:
 * how long the work held the event loop at once, that is how long leases, probes and other jobs
 * would have waited. The timer runs once more after the work, so its last stretch counts too.
 */
export async function longestTurnGap<T>(work: () => Promise<T>): Promise<{ gapMs: number; outcome: PromiseSettledResult<T> }> {
  let last = performance.now();
  let gapMs = 0;
  const ticker = setInterval(() => {
    gapMs = Math.max(gapMs, performance.now() - last);
    last = performance.now();
  }, 5);
  const [outcome] = await Promise.allSettled([work()]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(ticker);
  return { gapMs, outcome: outcome! };
}
