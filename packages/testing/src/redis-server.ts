import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { reapOnExit } from './child-reaper.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

export interface RedisServerOptions {
  /** AOF on, with this fsync policy. Off when undefined. */
  appendfsync?: 'always' | 'everysec' | 'no';
  port?: number;
  dir?: string;
  extraArgs?: string[];
}

/**
 * A real `redis-server` child process on 127.0.0.1 with its own data folder. Fault tests stop,
 * kill and restart it on the same port and folder.
 */
export class RedisServer {
  #child: ChildProcess | undefined;
  readonly dir: string;

  private constructor(
    readonly port: number,
    readonly options: RedisServerOptions,
  ) {
    this.dir = options.dir ?? mkdtempSync(join(tmpdir(), 'conveyor-redis-'));
  }

  static available(): boolean {
    return spawnSync('redis-server', ['--version']).status === 0;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(options.port ?? (await freePort()), options);
    await server.restart();
    return server;
  }

  /**
   * Starts a server on ports `choosePorts` picks, again on new ones while another process took
   * one first: a free port is only free until someone binds it, and test files run side by side.
   */
  static async startOnFreePorts(choosePorts: () => Promise<{ port: number; extraArgs?: string[] }>, options: RedisServerOptions = {}): Promise<RedisServer> {
    for (let attempt = 1; ; attempt++) {
      const { port, extraArgs = [] } = await choosePorts();
      try {
        return await RedisServer.start({ ...options, port, extraArgs: [...(options.extraArgs ?? []), ...extraArgs] });
      } catch (error) {
        if (attempt === 5 || !/Address already in use/.test((error as Error).message)) throw error;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the server (again) on the same port and folder, and waits until it answers. */
  async restart(): Promise<void> {
    const aof = this.options.appendfsync;
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.dir,
      '--save', '',
      '--appendonly', aof ? 'yes' : 'no',
      ...(aof ? ['--appendfsync', aof] : []),
      '--maxmemory-policy', 'noeviction',
      ...(this.options.extraArgs ?? []),
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    reapOnExit(child, () => this.#removeOwnDir());
    let output = '';
    child.stdout?.on('data', (chunk) => (output += String(chunk)));
    child.stderr?.on('data', (chunk) => (output += String(chunk)));
    this.#child = child;
    const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => {});
    // A server that exits while starting (a port taken, a bad argument) is reported at once.
    let exited: (error: Error) => void = () => {};
    const exit = new Promise<never>((_, reject) => (exited = reject));
    exit.catch(() => {});
    child.once('exit', () => exited(new Error(`redis-server on port ${this.port} exited while starting: ${output.slice(-500)}`)));
    try {
      await Promise.race([
        exit,
        waitFor(
          async () => {
            if (probe.status !== 'ready') await probe.connect().catch(() => probe.disconnect());
            return (await probe.ping()) === 'PONG';
          },
          `redis-server on port ${this.port}`,
          15_000,
        ),
      ]);
    } finally {
      probe.disconnect();
    }
  }

  /** Sends a signal and waits for the process to end. SIGTERM lets Redis flush its AOF first. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    this.#removeOwnDir();
  }

  /** Removes the temporary folder this server made (not one it was given). */
  #removeOwnDir(): void {
    if (!this.options.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
