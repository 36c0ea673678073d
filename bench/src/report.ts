import type { BenchResults } from './benchmark.js';

const HEADERS = ['scenario', 'measure', 'Conveyor', 'compared with', 'ratio', 'target', 'met'];

function verdict(met: boolean | null): string {
  if (met === null) return '';
  return met ? 'yes' : 'NO';
}

/** The comparisons as rows of strings, in the table's column order. */
function rows(results: BenchResults): string[][] {
  return results.comparisons.map((c) => [c.scenario, c.measure, c.ours, c.peer, c.ratio === null ? '—' : `${c.ratio}×`, c.target, verdict(c.met)]);
}

/** A plain-text table for the terminal. */
export function textTable(results: BenchResults): string {
  const body = rows(results);
  const widths = HEADERS.map((header, i) => Math.max(header.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(HEADERS), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n');
}

/** The same table in Markdown, for the README. */
export function markdownTable(results: BenchResults): string {
  const escape = (cell: string) => cell.replaceAll('|', '\\|');
  return [`| ${HEADERS.join(' | ')} |`, `| ${HEADERS.map(() => '---').join(' | ')} |`, ...rows(results).map((row) => `| ${row.map(escape).join(' | ')} |`)].join('\n');
}

export function machineLine(results: BenchResults): string {
  const m = results.machine;
  return `${results.date.slice(0, 10)}, ${results.mode} mode, ${m.cores} cores (${m.cpu}), ${m.memory_gib} GiB, Node ${m.node}, Redis ${m.redis}, ${results.duration_s} s`;
}

/** Steal per scenario on one line, so a reader can tell a clean run from one the hypervisor slowed. */
export function stealLine(results: BenchResults): string {
  const known = Object.entries(results.cpu_steal_pct).filter((entry): entry is [string, number] => entry[1] !== null);
  if (known.length === 0) return 'CPU steal: not measured (no /proc/stat)';
  return `CPU steal (time the hypervisor gave to other guests) during each scenario: ${known.map(([name, pct]) => `${name} ${pct}%`).join(', ')}`;
}
