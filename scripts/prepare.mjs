#!/usr/bin/env node
// Installs dependencies (when the lockfile says something is missing) and builds the
// TypeScript projects (incrementally: a no-op when nothing changed). `pnpm start` and
// `pnpm test` run this first, so both work on a fresh clone. Uses only Node built-ins.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { packageManager } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** The pnpm that runs us when there is one, else the pinned version through npx. */
function pnpmCommand() {
  const agent = process.env.npm_config_user_agent ?? '';
  const execPath = process.env.npm_execpath;
  if (agent.startsWith('pnpm/') && execPath && existsSync(execPath)) return [process.execPath, [execPath]];
  return ['npx', ['--yes', packageManager]];
}

function run(command, args, what) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) {
    console.error(`conveyor: could not ${what}: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`conveyor: ${what} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

const [pnpm, pnpmArgs] = pnpmCommand();
// Both are silent, and the first install takes a while: say what is going on.
console.log(`conveyor: installing dependencies${existsSync(new URL('../node_modules/.modules.yaml', import.meta.url)) ? '' : ' (the first time: a minute or two)'}`);
run(pnpm, [...pnpmArgs, 'install', '--frozen-lockfile', '--prefer-offline', '--reporter=silent'], 'install dependencies');
console.log('conveyor: building');
run(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-b'], 'build');
