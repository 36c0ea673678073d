import { childPidsOf, freePort, isAlive, RedisServer, repositoryRoot, waitFor } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';

// The README's first command runs `scripts/prepare.mjs` (install + build) and then this launcher.
// The test command has already built everything, so the launcher is started directly here.

function launch(env: Record<string, string>) {
  const child = spawn(process.execPath, ['scripts/start.mjs'], { cwd: repositoryRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += String(chunk)));
  child.stderr.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

async function refusesConnections(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
    return false;
  } catch {
    return true;
  }
}

test('one command starts an embedded Redis with AOF under the data folder, the API and 2 workers (a CONSUMER_NAME numbered for each); Ctrl-C stops all of it', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-start-'));
  const [port, redisPort] = await Promise.all([freePort(), freePort()]);
  const stack = launch({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), EMBEDDED_REDIS_PORT: String(redisPort), DATA_DIR: dataDir, WORKER_PORT: '0', CONSUMER_NAME: 'stack' });
  const redis = new Redis(redisPort, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 'the API to be ready', 30_000, 200).catch((error: Error) => {
      throw new Error(`${error.message}\n${stack.output()}`);
    });
    const posted = await fetch(`http://127.0.0.1:${port}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"hi"}' });
    expect(posted.status).toBe(202);
    const location = posted.headers.get('location')!;
    const job = await waitFor(async () => {
      const body = (await (await fetch(`http://127.0.0.1:${port}${location}`)).json()) as { status: string };
      return body.status === 'completed' ? body : undefined;
    }, 'the job to complete');
    expect(job).toMatchObject({ result: { text: 'hi' } });

    await redis.connect();
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await redis.config('GET', 'dir')).toEqual(['dir', join(dataDir, 'redis')]);
    const clients = ((await redis.client('LIST')) as string).split('\n');
    // Each worker has one command connection named conveyor:worker:<consumer>, beside its readers and subscriber.
    const workerCommandConnections = clients.filter((line) => /name=conveyor:worker:[^\s:]+\s/.test(line));
    // Two workers under one name would take each other's jobs as their own.
    expect(workerCommandConnections.map((line) => /name=conveyor:worker:(\S+)/.exec(line)![1]).sort()).toEqual(['stack-1', 'stack-2']);
    redis.disconnect();
    expect(readdirSync(join(dataDir, 'redis'))).toContain('appendonlydir');

    stack.child.kill('SIGINT');
    expect(await stack.exited).toBe(0);
    expect(stack.output()).toContain('stopped');
    expect(await refusesConnections(port)).toBe(true);
    const probe = new Redis(redisPort, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    await expect(probe.connect()).rejects.toThrow();
    probe.disconnect();
  } finally {
    stack.child.kill('SIGKILL');
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** The pid of the launcher's child whose command line holds `command`, once there is one. */
function childPid(launcher: number, command: string): number | undefined {
  const lines = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(launcher)], { encoding: 'utf8' }).split('\n');
  const line = lines.find((entry) => entry.includes(command));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/)[0]);
}

const workerPid = (launcher: number) => childPid(launcher, 'apps/worker/dist/main.js');

/** POSTs a job, again while the API answers 503 (Redis coming back), and waits for it to complete. */
async function jobCompletes(port: number, prompt: string): Promise<void> {
  const body = JSON.stringify({ model: 'echo', prompt });
  const posted = await waitFor(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return response.status === 202 ? response : undefined;
  }, 'a 202', 15_000, 200);
  const location = posted.headers.get('location')!;
  await waitFor(async () => ((await (await fetch(`http://127.0.0.1:${port}${location}`)).json()) as { status: string }).status === 'completed', `the job "${prompt}" to complete`);
}

test('the banner comes once the workers take jobs: their models are loaded, so the first job tried runs at once', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-start-'));
  const [port, redisPort, workerPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const stack = launch({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), EMBEDDED_REDIS_PORT: String(redisPort), DATA_DIR: dataDir, WORKER_PORT: String(workerPort), WORKERS: '1' });
  try {
    const readyAnswers: number[] = [];
    await waitFor(
      async () => {
        const banner = stack.output().includes('Ctrl-C stops everything');
        // Asked while the banner has not come: 503 while the worker loads its models, or no answer yet.
        if (!banner) readyAnswers.push(await fetch(`http://127.0.0.1:${workerPort}/readyz`).then((response) => response.status, () => 0));
        return banner;
      },
      'the banner',
      60_000,
      50,
    );
    expect((await fetch(`http://127.0.0.1:${workerPort}/readyz`)).status).toBe(200);
    // The banner waited for it: the worker was not ready all along.
    expect(readyAnswers.some((status) => status !== 200)).toBe(true);
  } finally {
    // Ctrl-C, also when an assertion failed: a SIGKILLed launcher leaves its children running.
    stack.child.kill('SIGINT');
    expect(await Promise.race([stack.exited, new Promise((resolve) => setTimeout(resolve, 20_000, 'still running'))])).toBe(0);
    stack.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a REDIS_URL that does not answer: no banner, but why it is not ready; the banner once Redis is there (its password hidden)', async () => {
  const [port, redisPort, workerPort] = await Promise.all([freePort(), freePort(), freePort()]);
  // The default user takes any password while it has none (nopass), so a plain server serves this URL.
  const redisUrl = `redis://default:banner-secret@127.0.0.1:${redisPort}`;
  const stack = launch({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), REDIS_URL: redisUrl, WORKER_PORT: String(workerPort), WORKERS: '1' });
  let redis: RedisServer | undefined;
  try {
    await waitFor(() => stack.output().includes('not ready yet:'), 'the launcher to say why it waits', 30_000, 100);
    expect(stack.output()).toMatch(new RegExp(`not ready yet: the API is not ready \\(Redis does not answer: .*ECONNREFUSED 127\\.0\\.0\\.1:${redisPort}.*\\); waiting`));
    expect(stack.output()).not.toContain('Ctrl-C stops everything');

    redis = await RedisServer.start({ port: redisPort });
    await waitFor(() => stack.output().includes('Ctrl-C stops everything'), 'the banner once Redis answers', 60_000, 100);
    expect(stack.output()).toContain(`Redis redis://default:***@127.0.0.1:${redisPort}\n`);
    expect(stack.output()).not.toContain('banner-secret');
    // The default HOST of a local stack: this machine only.
    expect(stack.output()).toContain('listening on this machine only');
    expect((await fetch(`http://127.0.0.1:${workerPort}/readyz`)).status).toBe(200);
  } finally {
    stack.child.kill('SIGINT');
    expect(await Promise.race([stack.exited, new Promise((resolve) => setTimeout(resolve, 30_000, 'still running'))])).toBe(0);
    stack.child.kill('SIGKILL');
    // Not ours, that Redis is left running, and the stop says so (it said "then Redis"); to a pipe, without escape codes.
    expect(stack.output()).toContain('conveyor stopping: API and workers first (they finish what they hold); the Redis of REDIS_URL keeps running\n');
    expect(stack.output()).not.toContain('\x1b[');
    if (redis) {
      const client = new Redis(redis.url);
      expect(await client.ping()).toBe('PONG');
      client.disconnect();
    }
    await redis?.stop();
  }
});

test.for(['a second Ctrl-C during the stop', 'SIGHUP (a closed terminal)'])('%s leaves no process behind (they run in sessions of their own)', async (how) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-start-'));
  const [port, redisPort] = await Promise.all([freePort(), freePort()]);
  const stack = launch({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), EMBEDDED_REDIS_PORT: String(redisPort), DATA_DIR: dataDir, WORKER_PORT: '0', WORKERS: '1', PRELOAD_MODELS: 'false' });
  let pids: number[] = [];
  try {
    await waitFor(() => stack.output().includes('Ctrl-C stops everything'), 'the banner', 60_000, 100);
    pids = childPidsOf(stack.child.pid!);
    expect(pids).toHaveLength(3);
    // A job that holds its worker past the first Ctrl-C: the graceful stop would wait for it.
    const posted = await fetch(`http://127.0.0.1:${port}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","params":{"sleep_ms":8000}}' });
    expect(posted.status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (how.startsWith('SIGHUP')) {
      stack.child.kill('SIGHUP');
    } else {
      stack.child.kill('SIGINT');
      await waitFor(() => stack.output().includes('stopping:'), 'the stop to begin', 10_000, 50);
      stack.child.kill('SIGINT');
    }
    const code = await Promise.race([stack.exited, new Promise((resolve) => setTimeout(resolve, 45_000, 'still running'))]);
    expect(code).toBe(how.startsWith('SIGHUP') ? 0 : 130);
    await waitFor(() => pids.every((pid) => !isAlive(pid)), 'every child to be gone', 10_000, 100);
  } finally {
    stack.child.kill('SIGKILL');
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a worker or the Redis that dies is started again and the stack keeps serving; a worker that keeps dying at once stops the stack', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-start-'));
  const [port, redisPort] = await Promise.all([freePort(), freePort()]);
  const stack = launch({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), EMBEDDED_REDIS_PORT: String(redisPort), DATA_DIR: dataDir, WORKER_PORT: '0', WORKERS: '1' });
  const launcher = stack.child.pid!;
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 'the API to be ready', 30_000, 200);
    // Killed (as an OOM kill would), the embedded Redis is started again on its port, with its AOF.
    process.kill((await waitFor(() => childPid(launcher, 'redis-server'), 'the Redis process')), 'SIGKILL');
    await waitFor(() => /redis exited unexpectedly \(SIGKILL\); restarting it in [12] s/.test(stack.output()), 'the Redis restart notice');
    await jobCompletes(port, 'after Redis came back');

    const first = await waitFor(() => workerPid(launcher), 'the worker process');
    // Let it run past the quick-exit window, so this death counts as a crash, not a crash loop.
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    process.kill(first, 'SIGKILL');
    await waitFor(() => stack.output().includes('worker 1 exited unexpectedly (SIGKILL); restarting it in 1 s'), 'the restart notice');
    const second = await waitFor(() => {
      const pid = workerPid(launcher);
      return pid !== undefined && pid !== first ? pid : undefined;
    }, 'a new worker process');

    await jobCompletes(port, 'after the worker came back');

    // The new worker has run for less than 10 s: each death now waits longer, and the third in a row ends the stack.
    let victim = second;
    for (const delay of [2, 4]) {
      process.kill(victim, 'SIGKILL');
      await waitFor(() => stack.output().includes(`restarting it in ${delay} s`), `the ${delay} s restart notice`);
      const previous = victim;
      victim = await waitFor(() => {
        const pid = workerPid(launcher);
        return pid !== undefined && pid !== previous ? pid : undefined;
      }, 'a new worker process', 10_000);
    }
    process.kill(victim, 'SIGKILL');
    expect(await stack.exited).toBe(1);
    expect(stack.output()).toContain('worker 1 exited 3 times in a row within 10 s of starting (last: SIGKILL); stopping the stack');
    expect(await refusesConnections(port)).toBe(true);
  } finally {
    stack.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a process that cannot start (a bad setting) is not restarted: the stack stops and says why', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-start-'));
  const redisPort = await freePort();
  const stack = launch({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(await freePort()), MAX_BODY_BYTES: '0', EMBEDDED_REDIS_PORT: String(redisPort), DATA_DIR: dataDir, WORKER_PORT: '0', WORKERS: '1' });
  try {
    expect(await stack.exited).toBe(1);
    expect(stack.output()).toContain('MAX_BODY_BYTES (got "0"): is not a size from 1KiB to 512MiB');
    expect(stack.output()).toContain('api exited at start (code 1): its last log line above says why; stopping the stack');
    expect(stack.output()).not.toContain('restarting');
    // The 'try: curl ...' lines wait for the API to answer, so a stack that stops says none of them.
    expect(stack.output()).not.toContain('Ctrl-C stops everything');
  } finally {
    stack.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a second start with the same data folder is refused while the first runs (two Redis servers would write one AOF); it starts once the first is gone', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-start-'));
  const [port, redisPort, secondPort, secondRedisPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, WORKER_PORT: '0', WORKERS: '0' };
  const first = launch({ ...base, PORT: String(port), EMBEDDED_REDIS_PORT: String(redisPort) });
  try {
    await waitFor(() => first.output().includes('Ctrl-C stops everything'), 'the first stack to say it is up', 30_000, 100);
    // Its Redis port is the first's: refused for the folder, it does not get as far as picking another port.
    const second = launch({ ...base, PORT: String(secondPort), EMBEDDED_REDIS_PORT: String(redisPort) });
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(`another start (pid ${first.child.pid}) is running with its Redis data in ${join(dataDir, 'redis')}`);
    expect(second.output()).toContain('DATA_DIR=.data-2');
    expect(second.output()).not.toContain('is taken');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).ok).toBe(true);

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    const third = launch({ ...base, PORT: String(secondPort), EMBEDDED_REDIS_PORT: String(secondRedisPort) });
    await waitFor(() => third.output().includes('Ctrl-C stops everything'), 'the next stack to start', 30_000, 100);
    third.child.kill('SIGINT');
    expect(await third.exited).toBe(0);
  } finally {
    first.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the numbers start reads itself are checked as the API and the workers check theirs: nothing starts on a port or a count it cannot use', async () => {
  const refused: [Record<string, string>, string][] = [
    [{ PORT: 'eighty' }, 'PORT must be a whole number from 1 to 65535, got "eighty"'],
    [{ PORT: '0x1D4C' }, 'PORT must be a whole number from 1 to 65535, got "0x1D4C"'],
    [{ WORKERS: '1e1' }, 'WORKERS must be a whole number from 0 to 64, got "1e1"'],
    [{ WORKER_PORT: 'abc' }, 'WORKER_PORT must be a whole number from -1 to 65535, got "abc"'],
    [{ EMBEDDED_REDIS_PORT: '99999' }, 'EMBEDDED_REDIS_PORT must be a whole number from 1 to 65535, got "99999"'],
  ];
  for (const [settings, said] of refused) {
    const stack = launch({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...settings });
    expect(await stack.exited, JSON.stringify(settings)).toBe(1);
    expect(stack.output()).toBe(`conveyor: ${said}\n`);
  }
});

test('without REDIS_URL and without redis-server, the launcher says exactly how to get Redis', async () => {
  const nodeOnly = mkdtempSync(join(tmpdir(), 'conveyor-path-'));
  symlinkSync(process.execPath, join(nodeOnly, 'node'));
  const stack = launch({ PATH: nodeOnly, HOME: process.env.HOME ?? '' });
  expect(await stack.exited).toBe(1);
  const said = stack.output();
  expect(said).toContain('sudo apt-get install -y redis-server');
  expect(said).toContain('docker run -d --name conveyor-redis -p 6379:6379 redis:7-alpine');
  expect(said).toContain('REDIS_URL=redis://');
  expect(said).toContain('docker compose up --build');
  rmSync(nodeOnly, { recursive: true, force: true });
});

test('a redis-server older than 7.0 on PATH is refused, with the same ways to get Redis 7', async () => {
  const oldRedis = mkdtempSync(join(tmpdir(), 'conveyor-path-'));
  symlinkSync(process.execPath, join(oldRedis, 'node'));
  writeFileSync(join(oldRedis, 'redis-server'), '#!/bin/sh\necho "Redis server v=6.0.16 sha=00000000:0 malloc=jemalloc-5.2.1 bits=64 build=a3fdef44459b3ad6"\n', { mode: 0o755 });
  const stack = launch({ PATH: oldRedis, HOME: process.env.HOME ?? '' });
  expect(await stack.exited).toBe(1);
  const said = stack.output();
  expect(said).toContain(`${join(oldRedis, 'redis-server')} is Redis 6.0; Conveyor needs Redis 7.0 or newer, and REDIS_URL is not set.`);
  expect(said).not.toContain('no redis-server is on PATH');
  expect(said).toContain('sudo apt-get install -y redis-server');
  rmSync(oldRedis, { recursive: true, force: true });
});

/** Another program's HTTP server on `port` (another stack, docker compose), answering /healthz as a Conveyor API or worker would. */
function otherServer(port: number): Promise<Server> {
  const server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve(server));
  });
}

/** Whether nothing accepts TCP connections on 127.0.0.1:port. */
function refusesTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** The command lines of running processes that mention `text` (the embedded Redis names its data folder). */
function processesMentioning(text: string): string[] {
  return execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(text));
}

/** The launcher's environment for each way of getting Redis: its own embedded one, or REDIS_URL. */
interface Backing {
  env: Record<string, string>;
  /** The embedded Redis's port, which must be left refusing connections. */
  embeddedPort?: number;
  stop: () => Promise<void>;
}
const redisModes: { mode: string; redis: () => Promise<Backing> }[] = [
  {
    mode: 'embedded Redis',
    redis: async () => {
      const embeddedPort = await freePort();
      return { env: { EMBEDDED_REDIS_PORT: String(embeddedPort) }, embeddedPort, stop: async () => {} };
    },
  },
  {
    mode: 'REDIS_URL',
    redis: async () => {
      const server = await RedisServer.start();
      return { env: { REDIS_URL: server.url }, stop: () => server.stop() };
    },
  },
];

test.each(redisModes)('an API port another server already answers on stops the launcher before it starts anything, naming PORT and how to pick another; no "Ctrl-C stops everything" ($mode)', async ({ redis }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-start-'));
  const [port, workerPort] = await Promise.all([freePort(), freePort()]);
  const other = await otherServer(port);
  const backing = await redis();
  const stack = launch({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), DATA_DIR: dataDir, WORKER_PORT: String(workerPort), WORKERS: '1', ...backing.env });
  try {
    expect(await stack.exited).toBe(1);
    const said = stack.output();
    // It answered /healthz, but it is not this stack's API: no banner pointing at it.
    expect(said).not.toContain('Ctrl-C stops everything');
    expect(said).not.toContain(`API http://localhost:${port}`);
    expect(said).toContain(`PORT ${port} is taken`);
    expect(said).toMatch(/PORT=\d+ npx --yes pnpm@10\.34\.8 start/);
    // Nothing of this stack is left running, and the other server is untouched.
    expect(await refusesConnections(workerPort)).toBe(true);
    if (backing.embeddedPort !== undefined) expect(await refusesTcp(backing.embeddedPort)).toBe(true);
    expect(processesMentioning(dataDir)).toEqual([]);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).ok).toBe(true);
  } finally {
    stack.child.kill('SIGKILL');
    other.close();
    await backing.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.each(redisModes)("a worker's health port another program holds stops the launcher before it starts anything, naming WORKER_PORT and the ways out ($mode)", async ({ redis }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-start-'));
  const port = await freePort();
  // Worker 2 listens on WORKER_PORT + 1: that is the one taken.
  let workerPort = 0;
  let other: Server | undefined;
  while (other === undefined) {
    workerPort = await freePort();
    other = await otherServer(workerPort + 1).catch(() => undefined);
  }
  const backing = await redis();
  const stack = launch({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), DATA_DIR: dataDir, WORKER_PORT: String(workerPort), WORKERS: '2', ...backing.env });
  try {
    expect(await stack.exited).toBe(1);
    const said = stack.output();
    expect(said).not.toContain('Ctrl-C stops everything');
    expect(said).toContain(`port ${workerPort + 1} (WORKER_PORT ${workerPort} + 1, worker 2's health listener) is taken`);
    expect(said).toMatch(/WORKER_PORT=\d+ npx --yes pnpm@10\.34\.8 start/);
    expect(said).toContain('WORKER_PORT=0 npx --yes pnpm@10.34.8 start');
    expect(said).toContain('WORKER_PORT=-1 npx --yes pnpm@10.34.8 start');
    expect(await refusesConnections(port)).toBe(true);
    expect(await refusesConnections(workerPort)).toBe(true);
    if (backing.embeddedPort !== undefined) expect(await refusesTcp(backing.embeddedPort)).toBe(true);
    expect(processesMentioning(dataDir)).toEqual([]);
  } finally {
    stack.child.kill('SIGKILL');
    other.close();
    await backing.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a PORT that is also a worker's health port is refused before anything starts (whichever listened first would answer the other's /healthz)", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-start-'));
  const [workerPort, redisPort] = await Promise.all([freePort(), freePort()]);
  const stack = launch({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(workerPort + 1), EMBEDDED_REDIS_PORT: String(redisPort), DATA_DIR: dataDir, WORKER_PORT: String(workerPort), WORKERS: '2' });
  try {
    expect(await stack.exited).toBe(1);
    expect(stack.output()).toContain(`PORT ${workerPort + 1} is also worker 2's health port (WORKER_PORT ${workerPort} + 1)`);
    expect(stack.output()).not.toContain('Ctrl-C stops everything');
    expect(await refusesTcp(redisPort)).toBe(true);
  } finally {
    stack.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
