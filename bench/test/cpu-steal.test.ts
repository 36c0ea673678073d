import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { parseCpuLine, readCpuTimes, stolenPercent } from '../src/cpu-steal.js';

// A /proc/stat first line as Linux writes it: user nice system idle iowait irq softirq steal guest guest_nice.
const LINE = 'cpu  4705 356 584 3699176 23 0 8 120 0 0';

test('the cpu line is read as all ticks and the steal ticks', () => {
  expect(parseCpuLine(LINE)).toEqual({ total: 4705 + 356 + 584 + 3699176 + 23 + 0 + 8 + 120, steal: 120 });
  expect(parseCpuLine('cpu0 1 2 3 4 5 6 7 8')).toBeUndefined();
  expect(parseCpuLine('cpu  1 2 3')).toBeUndefined();
});

test('steal is the share of all CPU time between two readings, in percent', () => {
  expect(stolenPercent({ total: 1_000, steal: 10 }, { total: 1_800, steal: 210 })).toBe(25);
  expect(stolenPercent({ total: 1_000, steal: 10 }, { total: 1_300, steal: 10 })).toBe(0);
  expect(stolenPercent({ total: 1_000, steal: 10 }, { total: 1_000, steal: 10 })).toBeNull();
  expect(stolenPercent(undefined, { total: 1_000, steal: 10 })).toBeNull();
});

test('a missing /proc/stat gives no reading, a present one gives counters', () => {
  const folder = mkdtempSync(join(tmpdir(), 'conveyor-steal-'));
  try {
    expect(readCpuTimes(join(folder, 'absent'))).toBeUndefined();
    writeFileSync(join(folder, 'stat'), `${LINE}\ncpu0 1 2 3 4 5 6 7 8 0 0\n`);
    expect(readCpuTimes(join(folder, 'stat'))).toEqual({ total: 3704972, steal: 120 });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
