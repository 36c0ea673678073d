import { AppProcess } from '@conveyor/testing/processes';
import { waitFor } from '@conveyor/testing/wait';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type PeerScript = 'bare-api' | 'bullmq-api' | 'bullmq-worker';

const benchRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A peer process (TypeScript through tsx, like the benchmark itself); resolves once it says it is ready. */
export async function startPeer(script: PeerScript, env: Record<string, string>): Promise<AppProcess & { url: string }> {
  const entry = fileURLToPath(new URL(`./${script}.ts`, import.meta.url));
  // With BENCH_PROFILE=<folder>, peers write V8 CPU profiles to <folder>/<peer> as ours do.
  const profile = process.env['BENCH_PROFILE'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_PROFILE']}/${script}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', entry], {
    cwd: benchRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const peer = new AppProcess(script, child);
  const ready = await waitFor(
    () => {
      if (!peer.running) throw new Error(peer.describe());
      return peer.logs().find((line) => line['msg'] === 'ready');
    },
    `the ${script} peer to start`,
    30_000,
  ).catch((error: Error) => {
    peer.signal('SIGKILL');
    throw new Error(`${error.message}\n${peer.describe()}`);
  });
  return Object.assign(peer, { url: String(ready['url'] ?? '') });
}
