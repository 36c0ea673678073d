import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Result } from 'ioredis';
import type { RedisClient } from '../redis.js';

/**
 * Loads the Lua scripts of `src/lua/`, one per state transition, and registers them on an
 * ioredis client with `defineCommand` (EVALSHA, falling back to EVAL after NOSCRIPT, so a
 * Redis restart or failover that empties the script cache costs nothing).
 *
 * A script is named `<name>-<number of keys>.lua`, or `<name>-n.lua` when the caller passes the
 * number of keys first (a script over a variable number of jobs). A line `-- @include <fragment>` pulls in
 * `includes/<fragment>.lua` (and what that includes) once, ahead of the line's place.
 */

const luaDirectory = fileURLToPath(new URL('../../src/lua/', import.meta.url));
const includePattern = /^-- @include (\w+)\s*$/gm;

function readFragment(name: string): string {
  return readFileSync(`${luaDirectory}includes/${name}.lua`, 'utf8');
}

function expandIncludes(source: string, included: Set<string>): string {
  return source.replace(includePattern, (_line, name: string) => {
    if (included.has(name)) return '';
    included.add(name);
    return expandIncludes(readFragment(name), included);
  });
}

export interface ScriptSource {
  name: string;
  /** Undefined: the caller passes the number of keys as the first argument. */
  numberOfKeys: number | undefined;
  lua: string;
}

function loadScripts(): ScriptSource[] {
  return readdirSync(luaDirectory)
    .filter((file) => file.endsWith('.lua'))
    .map((file) => {
      const match = /^(\w+)-(\d+|n)\.lua$/.exec(file);
      if (!match) throw new Error(`Lua script ${file} must be named <name>-<number of keys>.lua or <name>-n.lua`);
      const source = readFileSync(luaDirectory + file, 'utf8');
      const numberOfKeys = match[2] === 'n' ? undefined : Number(match[2]);
      return { name: match[1]!, numberOfKeys, lua: expandIncludes(source, new Set()) };
    });
}

export const scripts: readonly ScriptSource[] = loadScripts();

export function defineScripts(redis: RedisClient): void {
  for (const script of scripts) {
    redis.defineCommand(script.name, script.numberOfKeys === undefined ? { lua: script.lua } : { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
}

export type ScriptArg = string | number | Buffer;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    enqueue(...args: ScriptArg[]): Result<unknown, Context>;
    take(...args: ScriptArg[]): Result<unknown, Context>;
    /** The first argument is the number of keys. */
    complete(...args: ScriptArg[]): Result<[number[], unknown[], string[], 0 | 1, string[]], Context>;
    fail(...args: ScriptArg[]): Result<number, Context>;
    promote(...args: ScriptArg[]): Result<[string[], number, string[]], Context>;
    readJob(...args: ScriptArg[]): Result<unknown, Context>;
    reclaim(...args: ScriptArg[]): Result<unknown, Context>;
    recover(...args: ScriptArg[]): Result<unknown, Context>;
    letGoOwn(...args: ScriptArg[]): Result<number, Context>;
    renew(...args: ScriptArg[]): Result<number[], Context>;
    release(...args: ScriptArg[]): Result<number, Context>;
    cancel(...args: ScriptArg[]): Result<[number, string?], Context>;
    retryDead(...args: ScriptArg[]): Result<[number, (string | number)?, number?], Context>;
    trim(...args: ScriptArg[]): Result<[number, number | string, string, string], Context>;
    pruneConsumers(...args: ScriptArg[]): Result<number, Context>;
    heartbeat(...args: ScriptArg[]): Result<number, Context>;
    lapsed(...args: ScriptArg[]): Result<number, Context>;
    progress(...args: ScriptArg[]): Result<number, Context>;
    findLostJobs(...args: ScriptArg[]): Result<[string, string[], string[], string, string[], string[]], Context>;
    claimConsumer(...args: ScriptArg[]): Result<number, Context>;
    unclaimConsumer(...args: ScriptArg[]): Result<number, Context>;
  }
}
