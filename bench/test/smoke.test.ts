/**
 * The benchmark at toy sizes, so it cannot rot: every scenario runs against the real API and
 * worker processes and the real peers, and yields figures. No thresholds: speed is measured by
 * `pnpm bench`, not asserted here.
 */
import { expect, test } from 'vitest';
import { runBenchmark, SCENARIOS } from '../src/benchmark.js';
import { markdownTable, stealLine, textTable } from '../src/report.js';

test('every scenario runs at smoke size and reports finite figures', { timeout: 240_000 }, async () => {
  // Printed as it goes, so a run that outlasts the test's timeout shows where it was.
  const started = Date.now();
  const progress = (message: string) => console.log(`[bench smoke ${((Date.now() - started) / 1_000).toFixed(1)} s] ${message}`);
  const results = await runBenchmark({ mode: 'smoke', progress });
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
