/**
 * The committed results agree with each other: the README quotes the latest full run as
 * `bench/results/latest.md` has it, and the run history's last row carries that run's ratios.
 */
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface Comparison {
  measure: string;
  ours: string;
  ratio: number | null;
}

test("the README's latest-run table is bench/results/latest.md", () => {
  expect(read('README.md')).toContain(read('bench/results/latest.md').trim());
});

test("the history's last row is the latest run's ratios", () => {
  const latest = JSON.parse(read('bench/results/latest.json')) as { comparisons: Comparison[] };
  const comparison = (measure: string) => latest.comparisons.find((each) => each.measure.startsWith(measure))!;
  const ratio = (measure: string) => `${comparison(measure).ratio!.toFixed(2)}×`;
  const rows = [...read('bench/results/history.md').matchAll(/^\| (\d+) \| (.+) \|$/gm)];
  const [, , cells] = rows.at(-1)!;
  const [http, bulk, processing, p99, idle, memory, scaleOut] = cells!.split(' | ');
  expect({ http, bulk, processing, p99, idle, memory, scaleOut }).toEqual({
    http: ratio('POST /jobs req/s vs bare'),
    bulk: ratio('POST /jobs/batch'),
    processing: ratio('1 worker'),
    p99: ratio('POST → completed'),
    idle: `${/p99 ([\d.]+)/.exec(comparison('POST → active').ours)![1]} ms`,
    memory: ratio('Redis bytes'),
    scaleOut: ratio('4 workers'),
  });
});
