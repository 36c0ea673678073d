import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { reapOnExit } from './child-reaper.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

export const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Whether a process of this PID is running. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A process that ended but is not yet reaped (a zombie: an orphan waits for its new parent,
  // init or a subreaper, to reap it, which may take a while on a busy machine) runs no more.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    // Gone meanwhile on Linux; no /proc to ask elsewhere.
    return process.platform !== 'linux';
  }
}

/** The PIDs of `parent`'s child processes, from /proc. */
export function childPidsOf(parent: number): number[] {
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

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A real Conveyor process (the compiled API or worker) started as a user would start it, with
 * its JSON log lines kept for assertions and for the failure message.
 */
export class AppProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<Exit>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    reapOnExit(child);
    let partial = '';
    const collect = (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts.filter(Boolean));
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Parsed JSON log lines (others are skipped). */
  logs(): Record<string, unknown>[] {
    return this.lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then waits for the exit; SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<Exit> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  describe(): string {
    return `${this.name} (pid ${this.child.pid}) said:\n${this.lines.slice(-40).join('\n')}`;
  }
}

export interface ProcessEnv {
  redisUrl: string;
  prefix: string;
  env?: Record<string, string>;
  /** Extra flags for node itself, e.g. `--cpu-prof` to profile the process. */
  nodeFlags?: string[];
}

function spawnNode(entry: string, env: Record<string, string>, nodeFlags: string[] = []): ChildProcess {
  return spawn(process.execPath, ['--enable-source-maps', ...nodeFlags, entry], {
    cwd: repositoryRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export class ApiProcess extends AppProcess {
  constructor(
    child: ChildProcess,
    readonly url: string,
  ) {
    super('api', child);
  }
}

/** Starts `apps/api/dist/server.js` on a free port without waiting for it (see `startApi`). */
export async function launchApi({ redisUrl, prefix, env = {}, nodeFlags }: ProcessEnv): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawnNode('apps/api/dist/server.js', { REDIS_URL: redisUrl, KEY_PREFIX: prefix, PORT: String(port), HOST: '127.0.0.1', ...env }, nodeFlags);
  return new ApiProcess(child, `http://127.0.0.1:${port}`);
}

/**
 * Starts `apps/api/dist/server.js` on a free port and waits until `/readyz` answers 200. A port
 * free a moment ago may be taken before the API binds it, by a process of a test file running
 * beside this one (a worker's health listener on port 0): the API then exits EADDRINUSE, and is
 * started again on another port. Its own "Server listening" line comes first, or the /readyz of
 * whatever took the port (a worker's says 200 too) would pass for the API's.
 */
export async function startApi(options: ProcessEnv): Promise<ApiProcess> {
  for (let launch = 1; ; launch++) {
    const api = await launchApi(options);
    const listening = `Server listening at ${api.url}`;
    const outcome = await waitFor(
      async () => {
        if (!api.running) return 'exited';
        if (!api.logs().some((line) => line['msg'] === listening)) return false;
        return (await fetch(`${api.url}/readyz`)).ok && 'ready';
      },
      'the API to become ready',
    ).catch((error: Error) => error.message);
    if (outcome === 'ready') return api;
    api.signal('SIGKILL');
    // Its last lines may still be on their way when it has exited.
    const portTaken = await waitFor(() => api.logs().some((line) => line['code'] === 'EADDRINUSE'), 'its EADDRINUSE line', 1_000).catch(() => false);
    if (portTaken && launch < 3) continue;
    throw new Error(`${outcome === 'exited' ? 'the API exited before it was ready' : outcome}\n${api.describe()}`);
  }
}

export class WorkerProcess extends AppProcess {
  healthPort = 0;
}

/**
 * Starts `apps/worker/dist/main.js` (health listener on a free port) without waiting for it.
 * Its built-in NLP models load on first use unless `env` sets PRELOAD_MODELS: most tests run
 * none, and loading them (1–2 s of CPU and 200 MB) in each of the suite's hundreds of workers
 * would add minutes to it.
 */
export function launchWorker({ redisUrl, prefix, env = {}, nodeFlags }: ProcessEnv): WorkerProcess {
  const child = spawnNode('apps/worker/dist/main.js', { REDIS_URL: redisUrl, KEY_PREFIX: prefix, WORKER_PORT: '0', WORKER_HOST: '127.0.0.1', PRELOAD_MODELS: 'false', ...env }, nodeFlags);
  return new WorkerProcess(`worker ${child.pid}`, child);
}

/** Starts `apps/worker/dist/main.js` (health listener on a free port) and waits until it runs. */
export async function startWorker(options: ProcessEnv): Promise<WorkerProcess> {
  const worker = launchWorker(options);
  await waitFor(
    () => {
      if (!worker.running) throw new Error(worker.describe());
      const line = worker.logs().find((entry) => entry['msg'] === 'worker running');
      return line ? (worker.healthPort = Number(line['health_port'] ?? 0)) || true : undefined;
    },
    'the worker to run',
  ).catch((error: Error) => {
    worker.signal('SIGKILL');
    throw new Error(`${error.message}\n${worker.describe()}`);
  });
  return worker;
}
