/**
 * `pnpm bench` (full, under 10 minutes) or `pnpm bench --quick` (under a minute). Prints the
 * table and writes every figure to bench/results/latest.json (full) or quick.json (quick).
 * `--only processing,latency` runs some scenarios.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runBenchmark, SCENARIOS, type ScenarioName } from './benchmark.js';
import { machineLine, markdownTable, stealLine, textTable } from './report.js';

const USAGE = `usage: pnpm bench [--quick] [--only <scenario>,...]
  --quick   tiny counts, under a minute; writes bench/results/quick.json and .md
  --only    some scenarios (${Object.keys(SCENARIOS).join(', ')}); writes bench/results/partial.json and .md
  without options: every scenario in full mode (under 10 minutes), written to bench/results/latest.json and .md`;

/** The command line's options; one it does not take (a typo) is said in a line, with the usage, not a stack trace. */
function readOptions() {
  try {
    return parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } }).values;
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const values = readOptions();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const only = values.only?.split(',').map((name) => name.trim()) as ScenarioName[] | undefined;
// Own names only: `constructor` is `in` every object, and ran nothing but wrote empty results.
const unknown = only?.filter((name) => !Object.hasOwn(SCENARIOS, name));
if (unknown?.length) {
  console.error(`bench: unknown scenario ${unknown.map((name) => JSON.stringify(name)).join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
const mode = values.quick ? 'quick' : 'full';
console.error(`bench: ${mode} mode${only ? `, only ${only.join(', ')}` : ''}`);

const results = await runBenchmark({ mode, ...(only ? { only } : {}), progress: (message) => console.error(`  ${message}`) });

const folder = new URL('../results/', import.meta.url);
mkdirSync(folder, { recursive: true });
const name = mode === 'full' && !only ? 'latest' : mode === 'quick' && !only ? 'quick' : 'partial';
writeFileSync(new URL(`${name}.json`, folder), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(new URL(`${name}.md`, folder), `${machineLine(results)}\n\n${markdownTable(results)}\n\n${stealLine(results)}\n`);
console.log(`\n${machineLine(results)}\n\n${textTable(results)}\n\n${stealLine(results)}\n\nwritten: bench/results/${name}.json, bench/results/${name}.md`);
