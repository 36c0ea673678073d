import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { childPidsOf, isAlive, waitFor } from '@conveyor/testing';
import { expect, test } from 'vitest';

const containedRead = new URL('../../dist/documents/contained-read.js', import.meta.url).href;

test.runIf(process.platform === 'linux')('a reader whose worker is killed (SIGKILL) in the middle of a long read ends within seconds: it ran on for minutes at full CPU', async () => {
  // A stand-in worker: it starts a read of Markdown that takes its parser minutes (400 kB of `_a`).
  const script = `
    import { readContained } from ${JSON.stringify(containedRead)};
    setTimeout(() => console.log('reading'), 500);
    await readContained({ kind: 'markdown', text: '_a'.repeat(200_000) }, new AbortController().signal, { heapMiB: 64, timeoutMs: 600_000, maxTextLength: 1e7 });`;
  const worker = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(worker.stdout, 'data');
  const [reader] = childPidsOf(worker.pid!);
  expect(reader && isAlive(reader)).toBe(true);
  try {
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    await waitFor(() => !isAlive(reader!), 'the reader to end with its worker', 10_000);
  } finally {
    if (isAlive(reader!)) process.kill(reader!, 'SIGKILL');
  }
});
