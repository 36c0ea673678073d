#!/usr/bin/env node
// The whole local stack in one process tree: an embedded Redis (when REDIS_URL is unset),
// the API and WORKERS worker processes. Ctrl-C (or SIGTERM) stops the API and the workers
// gracefully, then Redis. Uses only Node built-ins, so it runs right after the build.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
/** A setting as the API and the workers read it: set to nothing (`PORT=`), it is unset. */
const setting = (name) => (env[name] === '' ? undefined : env[name]);
// This machine only, unless set: the API takes jobs from anyone who can reach it (the images and
// manifests listen on every interface, as a container must).
const apiHost = env.HOST || '127.0.0.1';
const workerHost = env.WORKER_HOST || '127.0.0.1';
const START = 'npx --yes pnpm@10.34.8 start';
const children = [];
let stopping = false;

// Bold on a terminal only: a file or a pipe gets no escape codes.
const NAME = process.stdout.isTTY ? '\x1b[1mconveyor\x1b[0m' : 'conveyor';

function say(message) {
  process.stdout.write(`${NAME} ${message}\n`);
}

function fail(message) {
  process.stderr.write(`conveyor: ${message}\n`);
  process.exit(1);
}

/** The whole number `name` is set to (plain digits, as the API and the workers take them), or `fallback` when unset; from `min` to `max`, or start stops saying so. */
function wholeSetting(name, fallback, min, max) {
  const text = setting(name) ?? String(fallback);
  const value = Number(text);
  if (!/^\s*-?\d+\s*$/.test(text) || value < min || value > max) fail(`${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  return value;
}

const workers = wholeSetting('WORKERS', 2, 0, 64);
const dataDir = resolve(root, setting('DATA_DIR') ?? '.data');
if (/^\s*0+\s*$/.test(setting('PORT') ?? '')) fail('PORT=0 would put the API on a port chosen at random, which start could not tell you; give it one, e.g. PORT=3000');
const apiPort = wholeSetting('PORT', 3000, 1, 65_535);
const workerPortBase = wholeSetting('WORKER_PORT', 9464, -1, 65_535);
// Asked for only when start runs Redis itself.
const embeddedRedisPort = setting('REDIS_URL') ? undefined : wholeSetting('EMBEDDED_REDIS_PORT', 6379, 1, 65_535);
/** Each worker's consumer name: one name per live worker, so a name set for the stack gets each worker's number. */
const consumerName = (i) => {
  const name = setting('CONSUMER_NAME');
  return name === undefined || workers === 1 ? name : `${name}-${i + 1}`;
};

function findOnPath(name) {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

const WAYS_TO_REDIS = `Pick one:
  - install Redis:        sudo apt-get install -y redis-server      (Debian/Ubuntu; macOS: brew install redis)
                          then run this command again; it starts its own Redis with data under .data/
  - use Redis in Docker:  docker run -d --name conveyor-redis -p 6379:6379 redis:7-alpine
                          then: REDIS_URL=redis://127.0.0.1:6379 npx --yes pnpm@10.34.8 start
  - use any Redis 7+:     REDIS_URL=redis://user:password@host:6379 npx --yes pnpm@10.34.8 start
  - run everything in containers: docker compose up --build`;
const NO_REDIS = `Redis 7 or newer is needed, and REDIS_URL is not set and no redis-server is on PATH.\n${WAYS_TO_REDIS}`;

/** The error code listening on host:port gives a moment ago (EADDRINUSE: another process has it), or undefined. */
function listenError(port, host) {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (error) => done(error.code ?? String(error)));
    server.listen(port, host, () => server.close(() => done(undefined)));
  });
}

async function portIsFree(port) {
  return (await listenError(port, '127.0.0.1')) === undefined;
}

function freePort() {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/**
 * Whether another process listens on `port` where a child told to listen on `host` would, or on
 * the 127.0.0.1 the launcher asks and the banner's localhost reaches when that host is a wildcard.
 * Other errors (a HOST not on this machine, a privileged port) are left for the child to report.
 */
async function portIsTaken(port, host) {
  const hosts = host === '0.0.0.0' || host === '::' ? [host, '127.0.0.1'] : [host];
  for (const address of hosts) if ((await listenError(port, address)) === 'EADDRINUSE') return true;
  return false;
}

/** The first port after `port` that is free on `host` for `count` ports in a row, none of them in `avoid`, to suggest in a message. */
async function nextFreePorts(port, host, count = 1, avoid = []) {
  for (let first = port + 1; first + count - 1 <= 65_535 && first <= port + 100; first++) {
    let free = true;
    for (let i = 0; i < count && free; i++) free = !avoid.includes(first + i) && !(await portIsTaken(first + i, host));
    if (free) return first;
  }
  return port + 1000;
}

/**
 * Stops before anything starts when a port the API or a worker is to listen on is taken: the API's
 * would otherwise be answered by the other process (another stack, docker compose) while this API
 * fails to listen, and a worker's would end the stack once it started. A WORKER_PORT of 0 or -1
 * (any free port, none) has no port to check.
 */
async function checkPorts() {
  const workerPorts = workerPortBase < 1 ? [] : Array.from({ length: workers }, (_, i) => workerPortBase + i).filter((p) => p <= 65_535);
  // Not to be suggested: the embedded Redis starts first and would take it.
  const redisPort = embeddedRedisPort === undefined ? [] : [embeddedRedisPort];
  const which = (i) => (i === 0 ? `WORKER_PORT, worker 1's health listener` : `WORKER_PORT ${workerPortBase} + ${i}, worker ${i + 1}'s health listener`);
  if (workerPorts.includes(apiPort)) {
    const i = workerPorts.indexOf(apiPort);
    fail(`PORT ${apiPort} is also worker ${i + 1}'s health port (WORKER_PORT ${workerPortBase}${i === 0 ? '' : ` + ${i}`}); worker i listens on WORKER_PORT + i - 1.
Give them ports apart, e.g.:
  PORT=${apiPort} WORKER_PORT=${apiPort + 1} ${START}`);
  }
  if (await portIsTaken(apiPort, apiHost)) {
    fail(`PORT ${apiPort} is taken: another program (another Conveyor stack, docker compose, ...) listens there, so this stack's API cannot.
Stop that program (see which: lsof -iTCP:${apiPort} -sTCP:LISTEN), or run the API on another port:
  PORT=${await nextFreePorts(apiPort, apiHost, 1, [...workerPorts, ...redisPort])} ${START}`);
  }
  for (const [i, workerPort] of workerPorts.entries()) {
    if (!(await portIsTaken(workerPort, workerHost))) continue;
    fail(`port ${workerPort} (${which(i)}) is taken: another program (another Conveyor stack, docker compose, ...) listens there.
Stop that program (see which: lsof -iTCP:${workerPort} -sTCP:LISTEN), or give the workers other ports (worker i listens on WORKER_PORT + i - 1):
  WORKER_PORT=${await nextFreePorts(workerPort, workerHost, workers, [apiPort, ...redisPort])} ${START}
  WORKER_PORT=0 ${START}     (each worker picks a free port)
  WORKER_PORT=-1 ${START}    (no health listeners: no /healthz, /readyz, /metrics on the workers)`);
  }
}

/** Resolves once a Redis at host:port answers PING (raw RESP, no client library needed). */
function pingRedis(port) {
  return new Promise((done) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      done(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
    socket.once('timeout', () => {
      socket.destroy();
      done(false);
    });
  });
}

/** A process that exits this soon after it started counts as a quick exit. */
const QUICK_EXIT_MS = 10_000;
/** After this many quick exits in a row, restarting is given up and the stack stops. */
const MAX_QUICK_EXITS = 3;

/**
 * Starts a child and keeps it running, as docker compose's `restart: unless-stopped` does: one
 * that dies (a crash, an OOM kill, a SIGKILL) is started again after 1 s, 2 s, 4 s while it keeps
 * dying within QUICK_EXIT_MS. One that exits with an error soon after its first start (a bad
 * setting, a taken port) is not restarted: the stack stops, as starting it again would fail the same way.
 */
function launch(name, command, args, extraEnv = {}, logs = 'its last log line above') {
  const entry = { name, child: undefined, exited: Promise.resolve(), restartTimer: undefined };
  let starts = 0;
  let quickExits = 0;
  const spawnChild = () => {
    starts += 1;
    const startedAt = Date.now();
    // Own process group: the terminal's Ctrl-C reaches only this launcher, which then stops the
    // children in order (workers and API first, Redis last) with one SIGTERM each.
    const child = spawn(command, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: 'inherit', detached: true });
    entry.child = child;
    entry.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
    entry.exited.then(({ code, signal }) => {
      if (stopping) return;
      const how = signal ?? `code ${code}`;
      const quick = Date.now() - startedAt < QUICK_EXIT_MS;
      // Killed by a signal (an OOM kill, kill -9) it did start: only an error exit says it cannot.
      if (quick && starts === 1 && signal === null) {
        say(`${name} exited at start (${how}): ${logs} says why; stopping the stack`);
        return void stop(1);
      }
      quickExits = quick ? quickExits + 1 : 0;
      if (quickExits >= MAX_QUICK_EXITS) {
        say(`${name} exited ${quickExits} times in a row within ${QUICK_EXIT_MS / 1000} s of starting (last: ${how}); stopping the stack`);
        return void stop(1);
      }
      const delayMs = 1000 * 2 ** quickExits;
      say(`${name} exited unexpectedly (${how}); restarting it in ${delayMs / 1000} s`);
      entry.restartTimer = setTimeout(() => {
        entry.restartTimer = undefined;
        if (!stopping) spawnChild();
      }, delayMs);
    });
  };
  spawnChild();
  children.push(entry);
  return entry;
}

async function stopEntry(entry, graceMs) {
  clearTimeout(entry.restartTimer);
  if (entry.child.exitCode !== null || entry.child.signalCode !== null) return;
  entry.child.kill('SIGTERM');
  const timer = setTimeout(() => entry.child.kill('SIGKILL'), graceMs);
  await entry.exited;
  clearTimeout(timer);
}

async function stop(code) {
  if (stopping) return;
  stopping = true;
  // A Redis of REDIS_URL is not ours to stop.
  say(`stopping: API and workers first (they finish what they hold)${embeddedRedisPort === undefined ? '; the Redis of REDIS_URL keeps running' : ', then Redis'}`);
  const apps = children.filter((entry) => entry.name !== 'redis');
  await Promise.all(apps.map((entry) => stopEntry(entry, 35_000)));
  const redis = children.find((entry) => entry.name === 'redis');
  if (redis) await stopEntry(redis, 10_000);
  say('stopped');
  process.exit(code);
}

/**
 * A second Ctrl-C during the stop: the API and workers are killed at once (the jobs they hold are
 * taken over once their leases lapse) and Redis is stopped (it writes its AOF and exits in
 * moments), so no process is left behind to hold ports and the data folder.
 */
function stopNow() {
  say('second Ctrl-C: killing the API and workers (jobs they held are taken over once their leases lapse), stopping Redis');
  for (const entry of children) {
    clearTimeout(entry.restartTimer);
    if (entry.child.exitCode !== null || entry.child.signalCode !== null) continue;
    entry.child.kill(entry.name === 'redis' ? 'SIGTERM' : 'SIGKILL');
  }
  process.exit(130);
}

process.on('SIGINT', () => (stopping ? stopNow() : void stop(0)));
process.on('SIGTERM', () => void stop(0));
// A closed terminal or a dropped SSH session: the children, in sessions of their own, get no
// SIGHUP, so the launcher stops them as for Ctrl-C. What it then writes has nowhere to go.
process.on('SIGHUP', () => void stop(0));
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

/** Whether a process with this pid runs (signal 0 only checks). */
function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * One launcher per data folder: a second `start` in the same clone would start a second Redis
 * (on another port, the first being taken) appending to the same AOF, which corrupts it. The
 * folder holds this launcher's pid while it runs; one left by a launcher that is gone is taken over.
 */
function claimDataDir(dir) {
  const lock = join(dir, 'start.pid');
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      process.on('exit', () => rmSync(lock, { force: true }));
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    const owner = Number(readFileSync(lock, 'utf8'));
    if (Number.isInteger(owner) && owner > 0 && isRunning(owner)) {
      fail(`another start (pid ${owner}) is running with its Redis data in ${dir}; two Redis servers must not write one AOF.
Stop it (Ctrl-C in its terminal), or give this stack its own folder and ports:
  DATA_DIR=.data-2 EMBEDDED_REDIS_PORT=6380 PORT=3001 WORKER_PORT=9470 npx --yes pnpm@10.34.8 start
(If no other start is running, delete ${lock}.)`);
    }
    rmSync(lock, { force: true });
  }
}

async function startEmbeddedRedis() {
  const server = findOnPath('redis-server');
  if (!server) fail(NO_REDIS);
  const version = /v=(\d+)\.(\d+)/.exec(spawnSync(server, ['--version'], { encoding: 'utf8' }).stdout ?? '');
  if (!version || Number(version[1]) < 7) fail(`${server} is Redis ${version ? `${version[1]}.${version[2]}` : '(unknown version)'}; Conveyor needs Redis 7.0 or newer, and REDIS_URL is not set.\n${WAYS_TO_REDIS}`);

  const dir = join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  claimDataDir(dir);
  await checkPorts();
  let port = embeddedRedisPort;
  if (!(await portIsFree(port))) {
    const taken = port;
    port = await freePort();
    say(`port ${taken} is taken; the embedded Redis uses port ${port} instead`);
  }
  launch('redis', server, [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--logfile', join(dir, 'redis.log'),
  ], {}, `the end of its log, ${join(dir, 'redis.log')},`);
  for (let i = 0; i < 100; i++) {
    if (await pingRedis(port)) return `redis://127.0.0.1:${port}`;
    await new Promise((done) => setTimeout(done, 100));
  }
  fail(`the embedded Redis did not answer on port ${port}; see ${join(dir, 'redis.log')}`);
}

if (env.REDIS_URL) await checkPorts();
const redisUrl = env.REDIS_URL || (await startEmbeddedRedis());
const node = [process.execPath, '--enable-source-maps'];

launch('api', node[0], [node[1], 'apps/api/dist/server.js'], { REDIS_URL: redisUrl, PORT: String(apiPort), HOST: apiHost });
for (let i = 0; i < workers; i++) {
  const workerPort = workerPortBase <= 0 ? String(workerPortBase) : String(workerPortBase + i);
  const name = consumerName(i);
  launch(`worker ${i + 1}`, node[0], [node[1], 'apps/worker/dist/main.js'], { REDIS_URL: redisUrl, WORKER_PORT: workerPort, WORKER_HOST: workerHost, ...(name && { CONSUMER_NAME: name }) });
}

// Said once the API and the workers are ready, not while a bad setting may still stop the stack.
// checkPorts made sure no other process answered on PORT before this one started.

/** `url` with its password, if any, shown as ***. */
function withoutPassword(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href.replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** What /readyz at `url` says is missing, or undefined once it answers 200. */
async function notReady(url, name) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (response.ok) return undefined;
    const body = await response.json().catch(() => ({}));
    // The API's answer is a problem (detail); a worker's names its state and what its Redis said.
    const why = body.detail ?? [body.state, body.loading && `loading its ${body.loading}`, body.redis && `Redis: ${body.redis}`].filter(Boolean).join(', ');
    return `${name} is not ready${why ? ` (${why})` : ''}`;
  } catch {
    return `${name} does not answer yet`;
  }
}
/** Where to reach a listener bound to `host`: the loopback for a wildcard, else the host itself (bracketed when IPv6). */
const reachAt = (host) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host);
/** Why the stack cannot take jobs yet (the API first, then each worker: it loads its models before it takes jobs), or undefined when it can. */
async function waitingFor() {
  const api = await notReady(`http://${reachAt(apiHost)}:${apiPort}/readyz`, 'the API');
  if (api || workerPortBase <= 0) return api;
  const reasons = await Promise.all(Array.from({ length: workers }, (_, i) => notReady(`http://${reachAt(workerHost)}:${workerPortBase + i}/readyz`, `worker ${i + 1}`)));
  return reasons.find(Boolean);
}
// A stack that is not ready in 10 s says why (an unreachable REDIS_URL, most often) and waits on,
// saying so again whenever the reason changes: it is ready once Redis answers.
const waitingSince = Date.now();
let said;
for (let why = await waitingFor(); why && !stopping; why = await waitingFor()) {
  if (Date.now() - waitingSince >= 10_000 && why !== said) {
    say(`not ready yet: ${why}; waiting (Ctrl-C stops)`);
    said = why;
  }
  await new Promise((done) => setTimeout(done, 250));
}
if (!stopping) {
  say(`Redis ${withoutPassword(redisUrl)}${env.REDIS_URL ? '' : ` (embedded, data in ${join(dataDir, 'redis')})`}`);
  const apiUrl = `http://${['127.0.0.1', '0.0.0.0', '::', '::1'].includes(apiHost) ? 'localhost' : reachAt(apiHost)}:${apiPort}`;
  // Workers without a known health port (WORKER_PORT 0 or below) cannot be asked whether they are ready.
  const unchecked = workers > 0 && workerPortBase <= 0 ? ' (not yet ready, maybe: with WORKER_PORT 0 or below, start cannot ask them)' : '';
  say(`API ${apiUrl}  (docs: ${apiUrl}/docs), ${workers} worker${workers === 1 ? '' : 's'}${unchecked}`);
  if (apiHost === '127.0.0.1') say('listening on this machine only; HOST=0.0.0.0 opens the API to the network');
  say(`try: curl -X POST ${apiUrl}/jobs -H 'content-type: application/json' -d '{"model":"echo","prompt":"hi"}'`);
  say('Ctrl-C stops everything');
}
