import { apiEnvSchema, workerEnvSchema } from '@conveyor/shared';
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

/** The variables the README's Configuration table names (a row may name several). */
function documentedVariables(): Set<string> {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('\n## Configuration'), readme.indexOf('\n## Operations'));
  const firstCells = [...section.matchAll(/^\| ([^|]+) \|/gm)].map((row) => row[1]!);
  return new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((name) => name[1]!)));
}

test("every variable the API, the workers and `start` read is in the README's Configuration table, and the table names no other", () => {
  const documented = documentedVariables();
  const start = read('scripts/start.mjs');
  // PATH is the system's, read to find redis-server: not a setting.
  // Read as env.NAME, or as setting('NAME') / wholeSetting('NAME', ...), which take an empty value as unset.
  const startVariables = [...start.matchAll(/\benv\.([A-Z][A-Z0-9_]+)|\b(?:setting|wholeSetting)\('([A-Z][A-Z0-9_]+)'/g)].map((name) => (name[1] ?? name[2])!).filter((name) => name !== 'PATH');
  expect(startVariables).toEqual(expect.arrayContaining(['WORKERS', 'EMBEDDED_REDIS_PORT', 'CONSUMER_NAME', 'HOST']));
  const settings = new Set([...Object.keys(apiEnvSchema.shape), ...Object.keys(workerEnvSchema.shape), ...startVariables]);
  expect([...settings].filter((name) => !documented.has(name)).sort()).toEqual([]);
  expect([...documented].filter((name) => !settings.has(name)).sort()).toEqual([]);
});
