import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { waitFor } from '@conveyor/testing';
import { expect, test } from 'vitest';

const containedRead = new URL('../../dist/documents/contained-read.js', import.meta.url).href;

/** The PIDs of `parent`'s child processes, from /proc. */
function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        // The parent PID is the 4th field, after the name in parentheses (which may hold spaces).
        return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Whether a process of this PID is running. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test.runIf(process.platform === 'linux')('a reader whose worker is killed (SIGKILL) in the middle of a long read ends within seconds: it ran on for minutes at full CPU', async () => {
  // A stand-in worker: it starts a read of Markdown that takes its parser minutes (400 kB of `_a`).
  const script = `
    import { readContained } from ${JSON.stringify(containedRead)};
    setTimeout(() => console.log('reading'), 500);
    await readContained({ kind: 'markdown', text: '_a'.repeat(200_000) }, new AbortController().signal, { heapMiB: 64, timeoutMs: 600_000, maxTextLength: 1e7 });`;
  const worker = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(worker.stdout, 'data');
  const [reader] = childrenOf(worker.pid!);
  expect(reader && alive(reader)).toBe(true);
  try {
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    await waitFor(() => !alive(reader!), 'the reader to end with its worker', 10_000);
  } finally {
    if (alive(reader!)) process.kill(reader!, 'SIGKILL');
  }
});
