/**
 * The benchmark at toy sizes, so it cannot rot: every scenario runs against the real API and
 * worker processes and the real peers, and yields figures. No thresholds: speed is measured by
 * `pnpm bench`, not asserted here.
 */
import { expect, test } from 'vitest';
import { runBenchmark, SCENARIOS } from '../src/benchmark.js';
import { markdownTable, stealLine, textTable } from '../src/report.js';

test('every scenario runs at smoke size and reports finite figures', { timeout: 240_000 }, async () => {
  // Kept quiet while the run takes its usual 20 s or so; past 2 minutes, its progress so far is
  // printed, and what follows as it comes, so a run that outlasts the timeout shows where it was.
  const started = Date.now();
  const lines: string[] = [];
  let live = false;
  const progress = (message: string) => {
    lines.push(`[bench smoke ${((Date.now() - started) / 1_000).toFixed(1)} s] ${message}`);
    if (live) console.log(lines.at(-1));
  };
  const slow = setTimeout(() => {
    live = true;
    console.log(`the smoke benchmark is still running after 120 s; so far:\n${lines.join('\n')}`);
  }, 120_000);
  const results = await runBenchmark({ mode: 'smoke', progress }).finally(() => clearTimeout(slow));
  expect(results.scenarios).toHaveLength(Object.keys(SCENARIOS).length);
  expect(results.machine.redis).toMatch(/^\d+\.\d+/);
  for (const comparison of results.comparisons) {
    expect(comparison.ours).not.toMatch(/NaN|Infinity/);
    if (comparison.ratio !== null) expect(Number.isFinite(comparison.ratio) && comparison.ratio > 0, `${comparison.scenario}: ${comparison.measure}`).toBe(true);
  }
  const memory = results.scenarios.find((scenario) => scenario.scenario === 'memory')!.figures['bytes_per_job'] as Record<string, number>;
  expect(memory['conveyor']).toBeGreaterThan(50);
  expect(memory['bullmq']).toBeGreaterThan(50);
  const table = textTable(results);
  for (const scenario of results.scenarios) expect(table).toContain(scenario.scenario);
  expect(markdownTable(results).split('\n')).toHaveLength(results.comparisons.length + 2);
  // Linux (every machine this runs on) has /proc/stat: each scenario gets its steal share.
  expect(Object.keys(results.cpu_steal_pct)).toEqual(Object.keys(SCENARIOS));
  for (const pct of Object.values(results.cpu_steal_pct)) expect(pct !== null && pct >= 0 && pct <= 100).toBe(true);
  expect(stealLine(results)).toContain('http-ingestion');
});
