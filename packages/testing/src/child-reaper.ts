import type { ChildProcess } from 'node:child_process';

/** Each child still running, with what to clean up once it is killed. */
const children = new Map<ChildProcess, (() => void) | undefined>();
let installed = false;

function reap(): void {
  for (const [child, cleanup] of children) {
    child.kill('SIGKILL');
    try {
      cleanup?.();
    } catch {
      // This process is ending: what is left is left.
    }
  }
  children.clear();
}

/** Kills what is left, then lets the signal end this process unless something else handles it. */
function onSignal(signal: NodeJS.Signals): void {
  reap();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/**
 * SIGKILLs `child` if it still runs when this process ends, then runs `cleanup` (synchronous: a
 * redis-server's temporary folder is removed this way). Vitest ends a test file's process
 * with SIGTERM, which runs no exit handlers, and a test that timed out never reached the
 * `finally` that stops its processes: its redis-server, API and workers outlived the run, and
 * took CPU from the next one. An interrupted `pnpm bench` left its own behind the same way.
 */
export function reapOnExit(child: ChildProcess, cleanup?: () => void): void {
  if (!installed) {
    installed = true;
    process.on('exit', reap);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  children.set(child, cleanup);
  child.once('exit', () => children.delete(child));
}
