import { readFileSync } from 'node:fs';

/** The machine's CPU time so far, all cores, in clock ticks: everything, and what the hypervisor took. */
export interface CpuTimes {
  total: number;
  steal: number;
}

/**
 * Reads the first line of /proc/stat (`cpu  user nice system idle iowait irq softirq steal ...`).
 * Undefined where there is no /proc (not Linux): the benchmark then reports no steal.
 */
export function readCpuTimes(procStat = '/proc/stat'): CpuTimes | undefined {
  let text: string;
  try {
    text = readFileSync(procStat, 'utf8');
  } catch {
    return undefined;
  }
  return parseCpuLine(text.slice(0, text.indexOf('\n')));
}

/** The `cpu` line's first eight counters (guest time is already counted in user). */
export function parseCpuLine(line: string): CpuTimes | undefined {
  const [label, ...fields] = line.trim().split(/\s+/);
  const ticks = fields.slice(0, 8).map(Number);
  if (label !== 'cpu' || ticks.length < 8 || ticks.some((tick) => !Number.isFinite(tick))) return undefined;
  return { total: ticks.reduce((sum, tick) => sum + tick, 0), steal: ticks[7]! };
}

/**
 * Share of the machine's CPU time between two readings that the hypervisor gave to other guests
 * (steal), in percent with one decimal. On a shared or burstable VM this is what makes absolute
 * figures, and ratios whose two sides ran at different moments, move: a scenario that ran with
 * more than a few percent stolen is not a clean measurement.
 */
export function stolenPercent(before: CpuTimes | undefined, after: CpuTimes | undefined): number | null {
  if (!before || !after || after.total <= before.total) return null;
  return Math.round((1_000 * (after.steal - before.steal)) / (after.total - before.total)) / 10;
}
