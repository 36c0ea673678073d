/**
 * A benchmark stopped part-way (SIGTERM, as a test runner or a CI job ends a process) leaves
 * none of the processes it started running (its redis-server, our API and worker, the peers),
 * nor the redis-server's temporary folder.
 */
import { waitFor } from '@conveyor/testing/wait';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const benchRoot = fileURLToPath(new URL('../', import.meta.url));

/** The processes whose parent is `pid`, by /proc (Linux, every machine this runs on). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return [];
    try {
      const parent = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      return Number(parent) === pid ? [Number(entry)] : [];
    } catch {
      return []; // ended meanwhile
    }
  });
}

/** Whether `pid` still runs: a zombie (ended, not yet reaped by its new parent) does not. */
function isRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

test('a benchmark ended by SIGTERM mid-scenario takes its redis-server (and its data folder), API, worker and peer processes with it', { timeout: 60_000 }, async () => {
  const bench = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--quick', '--only', 'latency'], { cwd: benchRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  bench.stderr.on('data', (chunk) => (said += String(chunk)));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => bench.once('exit', (_code, signal) => resolve(signal)));
  let children: number[] = [];
  try {
    // The latency scenario runs Redis, our API and worker, and BullMQ's API and worker at once.
    children = await waitFor(() => {
      const found = childrenOf(bench.pid!);
      return found.length >= 5 && found;
    }, 'the benchmark to start its five processes', 40_000).catch((error: Error) => {
      throw new Error(`${error.message}; the benchmark said:\n${said}`);
    });
    // redis-server works in its data folder: a temporary one, made for this run.
    const folders = children.map((pid) => readlinkSync(`/proc/${pid}/cwd`)).filter((folder) => folder.includes('conveyor-redis-'));
    expect(folders).toHaveLength(1);
    bench.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    await waitFor(() => children.every((pid) => !isRunning(pid)), 'the benchmark\'s processes to end', 5_000).catch((error: Error) => {
      throw new Error(`${error.message}: still running ${children.filter(isRunning).join(', ')}`);
    });
    expect(folders.filter((folder) => existsSync(folder))).toEqual([]);
  } finally {
    bench.kill('SIGKILL');
    for (const pid of children.filter(isRunning)) process.kill(pid, 'SIGKILL');
  }
});
