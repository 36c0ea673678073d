import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
let installed = false;

function reap(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** Kills what is left, then lets the signal end this process unless something else handles it. */
function onSignal(signal: NodeJS.Signals): void {
  reap();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/**
 * SIGKILLs `child` if it still runs when this process ends. Vitest ends a test file's process
 * with SIGTERM, which runs no exit handlers, and a test that timed out never reached the
 * `finally` that stops its processes: its redis-server, API and workers outlived the run, and
 * took CPU from the next one. An interrupted `pnpm bench` left its own behind the same way.
 */
export function reapOnExit(child: ChildProcess): void {
  if (!installed) {
    installed = true;
    process.on('exit', reap);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  children.add(child);
  child.once('exit', () => children.delete(child));
}
