import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { childPidsOf, isAlive, waitFor } from '@conveyor/testing';
import { expect, test } from 'vitest';

const containedRead = new URL('../../dist/documents/contained-read.js', import.meta.url).href;

/** Kills the stand-in worker (SIGKILL) and expects its reader process to end within 10 s. */
async function expectReaderToEndWith(worker: ChildProcess): Promise<void> {
  const [reader] = childPidsOf(worker.pid!);
  expect(reader && isAlive(reader)).toBe(true);
  try {
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    await waitFor(() => !isAlive(reader!), 'the reader to end with its worker', 10_000);
  } finally {
    if (isAlive(reader!)) process.kill(reader!, 'SIGKILL');
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
  await expectReaderToEndWith(worker);
});

test.runIf(process.platform === 'linux')('a reader whose worker is killed while the reader is still starting ends too: adopted before it knew its worker, it took its new parent for it and read the request waiting in its channel for good', async () => {
  const script = `
    import { readContained } from ${JSON.stringify(containedRead)};
    void readContained({ kind: 'markdown', text: '_a'.repeat(200_000) }, new AbortController().signal, { heapMiB: 64, timeoutMs: 600_000, maxTextLength: 1e7 });
    console.log('forked');
    setInterval(() => {}, 1000);`;
  const worker = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(worker.stdout, 'data');
  // Killed as soon as its reader is forked (and sent its request): the reader is still loading its modules.
  await waitFor(() => childPidsOf(worker.pid!).length > 0, 'the reader to be forked', 5_000, 1);
  await expectReaderToEndWith(worker);
});
