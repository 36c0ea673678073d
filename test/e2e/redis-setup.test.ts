import { launchApi, launchWorker, RedisServer, startApi, startWorker, waitFor, type AppProcess } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

/**
 * A Redis that answers but cannot be used as configured stops the API and the worker with exit
 * code 1 and a log line that says what to change, before either writes anything: a database the
 * server does not have (ioredis would carry on in database 0), or, in production, a
 * maxmemory-policy that lets Redis delete jobs.
 */
let server: RedisServer;
let root: Redis;

beforeAll(async () => {
  server = await RedisServer.start();
  root = new Redis(server.url);
});

afterAll(async () => {
  root?.disconnect();
  await server?.stop();
});

async function keyspace(): Promise<string> {
  return (await root.info('keyspace')).split('\n').filter((line) => line.startsWith('db')).join(' ');
}

async function refusal(process: AppProcess, said: RegExp): Promise<void> {
  const exit = await Promise.race([process.exited, new Promise((resolve) => setTimeout(resolve, 15_000, 'still running'))]);
  if (exit === 'still running') process.signal('SIGKILL');
  expect(exit, process.describe()).toEqual({ code: 1, signal: null });
  const fatal = process.logs().find((line) => line['level'] === 60);
  expect(JSON.stringify(fatal), process.describe()).toMatch(said);
  // A Redis to change is no bug: the line says what to do, without a stack trace.
  expect(JSON.stringify(fatal), process.describe()).not.toContain('"stack"');
  // Checked before it listens: it never said it served.
  expect(process.logs().filter((line) => /listening/i.test(String(line['msg']))), process.describe()).toEqual([]);
}

describe('the database in REDIS_URL', () => {
  test('one the server does not have stops the API and the worker, and nothing is written anywhere', async () => {
    await root.flushall();
    const redisUrl = `${server.url}/99`;
    const api = await launchApi({ redisUrl, prefix: 'conveyor' });
    const worker = launchWorker({ redisUrl, prefix: 'conveyor' });
    const said = /REDIS_URL selects database 99, which Redis refuses \(ERR DB index is out of range\)\. Use a database this Redis has/;
    await Promise.all([refusal(api, said), refusal(worker, said)]);
    expect(await keyspace()).toBe('');
  });

  test('one it has is where every key goes', async () => {
    await root.flushall();
    const redisUrl = `${server.url}/3`;
    const [api, worker] = await Promise.all([startApi({ redisUrl, prefix: 'conveyor' }), startWorker({ redisUrl, prefix: 'conveyor' })]);
    try {
      const submitted = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt: 'db 3' }) });
      const { job_id } = (await submitted.json()) as { job_id: string };
      await waitFor(async () => ((await (await fetch(`${api.url}/jobs/${job_id}`)).json()) as { status: string }).status === 'completed', 'the job to complete');
      expect(await keyspace()).toMatch(/^db3:keys=\d+/);
    } finally {
      await Promise.all([api.stop(), worker.stop()]);
    }
  });
});

describe('an evicting maxmemory-policy', () => {
  test('stops the API and the worker in production', async () => {
    await root.flushall();
    await root.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const env = { NODE_ENV: 'production' };
      const api = await launchApi({ redisUrl: server.url, prefix: 'conveyor', env });
      const worker = launchWorker({ redisUrl: server.url, prefix: 'conveyor', env });
      const said = /maxmemory-policy is \\"allkeys-lru\\": under memory pressure Redis will delete streams and job records.*Set it to noeviction/;
      await Promise.all([refusal(api, said), refusal(worker, said)]);
    } finally {
      await root.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });

  test('set while they run stops the worker at its next reconnect in production, as it stops the API (the worker ran on, ready)', async () => {
    await root.flushall();
    // A short grace: the drain has nothing to wait for, but in 2 of about 30 runs it took over 15 s
    // of the default 25 s (the last line "draining"), which is not pinned down.
    const env = { NODE_ENV: 'production', SHUTDOWN_GRACE_MS: '3s' };
    const [api, worker] = await Promise.all([startApi({ redisUrl: server.url, prefix: 'conveyor', env }), startWorker({ redisUrl: server.url, prefix: 'conveyor', env })]);
    try {
      await root.config('SET', 'maxmemory-policy', 'allkeys-lru');
      // As a Redis restarted with another configuration: every connection is dropped and made again.
      await root.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      const said = /Redis is not usable as configured; stopping: Redis maxmemory-policy is \\"allkeys-lru\\"/;
      for (const process of [api, worker]) {
        const exit = await Promise.race([process.exited, new Promise((resolve) => setTimeout(resolve, 15_000, 'still running'))]);
        expect(exit, process.describe()).toEqual({ code: 1, signal: null });
        expect(JSON.stringify(process.logs().find((line) => line['level'] === 60)), process.describe()).toMatch(said);
      }
    } finally {
      await root.config('SET', 'maxmemory-policy', 'noeviction');
      await Promise.all([api.stop(), worker.stop()]);
    }
  });

  test('is a warning elsewhere, once per process though checked at every reconnect, and both run', async () => {
    await root.config('SET', 'maxmemory-policy', 'volatile-lru');
    try {
      const [api, worker] = await Promise.all([startApi({ redisUrl: server.url, prefix: 'conveyor' }), startWorker({ redisUrl: server.url, prefix: 'conveyor' })]);
      await root.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      const said = (process: AppProcess) => process.logs().map((line) => String(line['msg']));
      await waitFor(() => said(api).includes('Redis connection is back') && said(worker).includes('Redis connection for commands is back'), 'both to be back');
      await new Promise((resolve) => setTimeout(resolve, 500));
      await Promise.all([api.stop(), worker.stop()]);
      for (const process of [api, worker]) {
        expect(process.logs().filter((line) => line['level'] === 40 && String(line['msg']).includes('maxmemory-policy is "volatile-lru"')), process.describe()).toHaveLength(1);
      }
      // The API said the connection was lost before it said it was back (a close without an error said nothing).
      const lost = api.logs().findIndex((line) => line['msg'] === 'Redis connection error' && line['err'] === 'Redis closed the connection; reconnecting');
      expect(lost, api.describe()).toBeGreaterThanOrEqual(0);
      expect(said(api).indexOf('Redis connection is back')).toBeGreaterThan(lost);
      // A clean stop closes the connections without a word of it.
      expect(api.logs().filter((line) => line['msg'] === 'Redis connection error'), api.describe()).toHaveLength(1);
    } finally {
      await root.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });
});

describe('a password its Redis does not ask for', () => {
  test('is warned of in a JSON log line, as every line the API and the worker write (the Redis client printed "[WARN] ..." text)', async () => {
    // Without a user name: AUTH <password> is refused by a Redis with none (with `default:`, nopass takes any).
    const url = new URL(server.url);
    url.password = 'not-asked-for';
    const [api, worker] = await Promise.all([startApi({ redisUrl: url.toString(), prefix: 'conveyor' }), startWorker({ redisUrl: url.toString(), prefix: 'conveyor' })]);
    await Promise.all([api.stop(), worker.stop()]);
    for (const process of [api, worker]) {
      expect(process.lines.filter((line) => !line.startsWith('{')), process.describe()).toEqual([]);
      expect(process.logs().some((line) => line['level'] === 40 && String(line['msg']).includes('does not require a password')), process.describe()).toBe(true);
    }
  });
});

describe('a worker\'s readiness', () => {
  test('follows its Redis connection, and says why while it is down', async () => {
    const own = await RedisServer.start();
    const worker = await startWorker({ redisUrl: own.url, prefix: 'conveyor', env: { LOG_TRANSITIONS: 'false', SHUTDOWN_GRACE_MS: '1s', BLOCK_MS: '1s' } });
    const readiness = async () => {
      const response = await fetch(`http://127.0.0.1:${worker.healthPort}/readyz`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    try {
      expect(await readiness()).toMatchObject({ status: 200, body: { status: 'ready', state: 'running' } });
      expect((await readiness()).body['redis']).toBeUndefined();
      await own.kill('SIGKILL');
      // First the connection's state ("reconnecting"), then, once a reconnect fails, its error.
      const refused = `connect ECONNREFUSED 127.0.0.1:${own.port}`;
      await waitFor(async () => (await readiness()).body['redis'] === refused, 'the worker to say why it is not ready');
      expect((await readiness())).toMatchObject({ status: 503, body: { status: 'not ready', state: 'running', redis: refused } });
      await own.restart();
      await waitFor(async () => (await readiness()).status === 200, 'the worker to be ready again');
      // Its blocking reads were sent again once it was back, and answered within BLOCK_MS: none
      // is said to have got no answer, while Redis was down or after (it said so every time).
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(worker.logs().filter((line) => String(line['msg']).startsWith('a blocking read got no answer')), worker.describe()).toEqual([]);
    } finally {
      await worker.stop();
      await own.stop();
    }
  });
});

describe('REDIS_URL leading to something that is not Redis', () => {
  test("is named so in the API's /readyz, instead of the client's \"Unknown RESP type ... Please report this\"", async () => {
    const web = createServer((_request, response) => response.end('not redis'));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const api = await launchApi({ redisUrl: `redis://127.0.0.1:${(web.address() as AddressInfo).port}`, prefix: 'conveyor' });
    try {
      const readiness = async () => {
        const response = await fetch(`${api.url}/readyz`).catch(() => undefined);
        return response ? ((await response.json()) as { detail?: string }).detail : undefined;
      };
      await waitFor(async () => (await readiness())?.includes('Redis protocol'), "the API's /readyz to say what answers on that port");
      const detail = await readiness();
      expect(detail).toMatch(/Unknown RESP type .*\(what answers on REDIS_URL's host and port does not speak the Redis protocol: is it a Redis server\?\)/);
      expect(detail).not.toContain('Please report this');
      // And it stays with the cause as the client tries again (it went on to "write EPIPE").
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(await readiness()).toContain('Redis protocol');
      }
    } finally {
      await api.stop();
      web.closeAllConnections();
      web.close();
    }
  });
});

/**
 * Another program that writes under Conveyor's KEY_PREFIX can leave a key of another type where
 * a queue keeps its stream or hash. Every command on it fails with WRONGTYPE, which names no key.
 */
describe('a Redis user without the rights Conveyor needs', () => {
  const urlOf = (user: string) => server.url.replace('redis://', `redis://${user}:user-secret@`);
  const advice = /ACL SETUSER <user> '~conveyor:\*' '&conveyor:\*' \+@all -@dangerous \+info '\+client\|unblock' \(README, Operations: Redis access\)/;

  test("without Conveyor's keys, stops the API and the worker at start, saying what to grant (the API said it was ready and answered 500s)", async () => {
    await root.flushall();
    await root.call('ACL', 'SETUSER', 'other-keys', 'reset', 'on', '>user-secret', '~other:*', '&*', '+@all', '-@dangerous', '+info');
    const api = await launchApi({ redisUrl: urlOf('other-keys'), prefix: 'conveyor' });
    const worker = launchWorker({ redisUrl: urlOf('other-keys'), prefix: 'conveyor' });
    const said = new RegExp(`Redis refuses a command Conveyor needs to the user in REDIS_URL \\(NOPERM [^)]*\\): give the Redis user in REDIS_URL Conveyor's keys and channels.*${advice.source}`);
    await Promise.all([refusal(api, said), refusal(worker, said)]);
    expect(JSON.stringify(api.logs().find((line) => line['level'] === 60))).toContain('"code":"REDIS_NO_PERMISSION"');
  });

  test('with a password Redis refuses, the worker stops saying so (it warned that the Redis version and maxmemory-policy could not be read, then exited with a stack trace); the API waits, and /readyz says why', async () => {
    await root.flushall();
    const api = await launchApi({ redisUrl: urlOf('nobody'), prefix: 'conveyor' });
    const worker = launchWorker({ redisUrl: urlOf('nobody'), prefix: 'conveyor' });
    try {
      await refusal(worker, /"code":"REDIS_AUTH".*Redis refuses the user and password in REDIS_URL \(WRONGPASS [^)]*\): put the right ones in REDIS_URL/);
      expect(worker.logs().filter((line) => /Redis version|maxmemory-policy/.test(String(line['msg']))), worker.describe()).toEqual([]);
      expect(worker.logs().find((line) => line['level'] === 40), worker.describe()).toMatchObject({ msg: 'Redis connection for commands not made; trying again' });
      await waitFor(async () => ((await (await fetch(`${api.url}/readyz`).catch(() => undefined))?.json()) as { detail?: string } | undefined)?.detail?.includes('WRONGPASS'), "the API's /readyz to say why");
      expect(api.running).toBe(true);
    } finally {
      await api.stop();
    }
  });

  test("whose keys are taken away while the API runs: /metrics keeps the backlog it last read and says it could not read it (it reported the queue drained)", async () => {
    await root.flushall();
    await root.call('ACL', 'SETUSER', 'losing-keys', 'reset', 'on', '>user-secret', '~conveyor:*', '&conveyor:*', '+@all', '-@dangerous', '+info', '+client|unblock');
    const api = await startApi({ redisUrl: urlOf('losing-keys'), prefix: 'conveyor' });
    try {
      const gauges = async () => {
        const text = await (await fetch(`${api.url}/metrics`)).text();
        const value = (name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1]);
        return { waiting: value('conveyor_stage_waiting{queue="inference",stage="infer"}'), readable: value('conveyor_backlog_readable') };
      };
      for (let i = 0; i < 3; i++) await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo' }) });
      expect(await gauges()).toEqual({ waiting: 3, readable: 1 });
      await root.call('ACL', 'SETUSER', 'losing-keys', 'resetkeys', '~other:*');
      expect(await gauges()).toEqual({ waiting: 3, readable: 0 });
      // And a read of the queues is a 503 that says so, not a 500.
      const stats = await fetch(`${api.url}/queues/inference`);
      expect(stats.status).toBe(503);
      expect(((await stats.json()) as { detail: string }).detail).toMatch(/^Redis refused a command to the API's Redis user \(NOPERM/);
    } finally {
      await api.stop();
    }
  });

  test("that loses a command the worker records outcomes with: the worker logs what to grant, without a stack trace; the entry stays pending, and once the command is granted again the job ends with one outcome", async () => {
    await root.flushall();
    await root.call('ACL', 'SETUSER', 'losing-xack', 'reset', 'on', '>user-secret', '~conveyor:*', '&conveyor:*', '+@all', '-@dangerous', '+info', '+client|unblock');
    const api = await startApi({ redisUrl: server.url, prefix: 'conveyor' });
    const worker = await startWorker({ redisUrl: urlOf('losing-xack'), prefix: 'conveyor', env: { LEASE_MS: '2s', MAINTENANCE_INTERVAL: '200ms' } });
    const pending = async () => ((await root.xpending('conveyor:{inference}:infer:normal', 'infer')) as [number])[0];
    try {
      // Taken away once the worker runs: a take needs no XACK, a completion does.
      await root.call('ACL', 'SETUSER', 'losing-xack', '-xack');
      const { job_id } = (await (await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt: 'unacked' }) })).json()) as { job_id: string };
      const said = () => worker.logs().find((line) => line['job_id'] === job_id && line['level'] === 50);
      await waitFor(() => said() !== undefined, 'the worker to log the refused completion');
      expect(said(), worker.describe()).toMatchObject({ code: 'REDIS_NO_PERMISSION' });
      expect(String(said()!['msg'])).toMatch(/^could not record the completion: Redis refused a command to this worker's user; the entry stays pending/);
      expect(String(said()!['err'])).toMatch(advice);
      expect(JSON.stringify(said())).not.toContain('"stack"');
      expect(await pending()).toBe(1);

      await root.call('ACL', 'SETUSER', 'losing-xack', '+xack');
      await waitFor(async () => (await pending()) === 0, 'the entry to be acked once XACK is granted again and its lease lapsed', 15_000);
      const record = (await (await fetch(`${api.url}/jobs/${job_id}`)).json()) as { status: string; result: unknown };
      expect(record).toMatchObject({ status: 'completed', result: { model: 'echo', text: 'unacked' } });
      expect(await root.hlen('conveyor:{inference}:active')).toBe(0);
    } finally {
      await Promise.all([api.stop(), worker.stop()]);
    }
  });

  test('without its channels, a broadcast or an event stream is a 503 that says what to grant, not a 500', async () => {
    await root.flushall();
    await root.call('ACL', 'SETUSER', 'no-channels', 'reset', 'on', '>user-secret', '~conveyor:*', 'resetchannels', '+@all', '-@dangerous', '+info', '+client|unblock');
    const token = 'redis-setup-admin-token-0123';
    const api = await startApi({ redisUrl: urlOf('no-channels'), prefix: 'conveyor', env: { ADMIN_TOKEN: token } });
    try {
      const broadcast = await fetch(`${api.url}/admin/broadcast`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'invalidate-model-cache' }) });
      const problem = (await broadcast.json()) as { type: string; detail: string };
      expect(broadcast.status, JSON.stringify(problem)).toBe(503);
      expect(broadcast.headers.get('retry-after')).toBe('10');
      expect(problem.type).toBe('/problems/service-unavailable');
      expect(problem.detail).toMatch(/^Redis refused a command to the API's Redis user \(NOPERM [^)]*channel[^)]*\); requests that need it fail until an operator acts: give the Redis user/);
      expect(problem.detail).toMatch(advice);
      // Jobs, which need no channel, go on; also while their queue's events are watched, when the
      // enqueue script publishes (it stored the job, then failed at PUBLISH: a 500).
      expect((await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt: 'still here' }) })).status).toBe(202);
      await root.set('conveyor:{inference}:events:watched', '1', 'EX', 60);
      const watched = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt: 'watched' }) });
      expect(watched.status, await watched.clone().text()).toBe(202);
      const { job_id } = (await watched.json()) as { job_id: string };
      expect(((await (await fetch(`${api.url}/jobs/${job_id}`)).json()) as { status: string }).status).toBe('queued');
      // A job's event stream needs the channel: the same 503 (it was told to try again after 1 s).
      const events = await fetch(`${api.url}/jobs/${job_id}/events`);
      expect(events.status).toBe(503);
      expect(events.headers.get('retry-after')).toBe('10');
      expect(((await events.json()) as { detail: string }).detail).toMatch(/^Redis refused a command to the API's Redis user \(NOPERM [^)]*channel[^)]*\); requests that need it fail until an operator acts: .*Nothing was changed\.$/);
    } finally {
      await api.stop();
    }
  });
});

describe('a queue key another program filled', () => {
  test('stops the API and the worker at start, naming the key', async () => {
    await root.flushall();
    await root.set('conveyor:{inference}:dead', 'not ours');
    const api = await launchApi({ redisUrl: server.url, prefix: 'conveyor' });
    const worker = launchWorker({ redisUrl: server.url, prefix: 'conveyor' });
    const said = /Keys under KEY_PREFIX \\"conveyor\\" hold values Conveyor does not write: \\"conveyor:\{inference\}:dead\\" holds a string, where Conveyor keeps a stream\. Another program uses this prefix/;
    await Promise.all([refusal(api, said), refusal(worker, said)]);
    // Refused before the consumer groups were made: the foreign key is all there is.
    expect(await root.keys('*')).toEqual(['conveyor:{inference}:dead']);
  });

  test('written while they run, is named in a 503 and in the worker\'s log; its queue goes on once it is gone', async () => {
    await root.flushall();
    const [api, worker] = await Promise.all([startApi({ redisUrl: server.url, prefix: 'conveyor' }), startWorker({ redisUrl: server.url, prefix: 'conveyor', env: { LOG_TRANSITIONS: 'false' } })]);
    const stream = 'conveyor:{inference}:infer:high';
    try {
      await root.multi().del(stream).hset(stream, 'field', 'not ours').exec();
      const named = `"${stream}" holds a hash, where Conveyor keeps a stream`;

      const stats = await fetch(`${api.url}/queues/inference`);
      const statsProblem = (await stats.json()) as { type: string; detail: string };
      expect(statsProblem.type, JSON.stringify(statsProblem)).toBe('/problems/redis-key-conflict');
      expect(stats.status).toBe(503);
      expect(stats.headers.get('retry-after')).toBe('10');
      expect(statsProblem.detail).toContain(named);
      expect(statsProblem.detail).toMatch(/Another program writes under KEY_PREFIX "conveyor".*Nothing was changed\.$/);
      // The other queues are not touched.
      expect((await fetch(`${api.url}/queues/documents`)).status).toBe(200);

      const submitted = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt: 'high', priority: 'high' }) });
      const submitProblem = (await submitted.json()) as { type: string; detail: string };
      expect(submitted.status, JSON.stringify(submitProblem)).toBe(503);
      expect(submitProblem.type).toBe('/problems/redis-key-conflict');
      expect(submitProblem.detail).toContain(named);
      expect(submitProblem.detail).toContain('look (GET the job) before sending it again');

      // The worker cannot read the queue's lanes meanwhile, and says which key stops it, at error level.
      await waitFor(async () => worker.logs().some((line) => line['level'] === 50 && String(line['msg']).includes(named)), 'the worker to name the key');
      const normal = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt: 'normal' }) });
      const accepted = (await normal.json()) as { job_id: string };
      expect(normal.status, JSON.stringify(accepted)).toBe(202);
      const { job_id } = accepted;

      await root.del(stream);
      await waitFor(async () => ((await (await fetch(`${api.url}/jobs/${job_id}`)).json()) as { status: string }).status === 'completed', 'the job to complete once the key is gone');

      // A key written last by a submission (the minute's counts) refuses it before anything is
      // stored: before, the job was stored and run although the answer was a 503.
      const minute = Math.floor(Date.now() / 60_000);
      const counts = [minute, minute + 1].map((m) => `conveyor:{inference}:stats:${m}`);
      await root.del(...counts);
      for (const key of counts) await root.set(key, 'not ours');
      const normalStream = 'conveyor:{inference}:infer:normal';
      const lengthBefore = await root.xlen(normalStream);
      const refused = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt: 'counted' }) });
      expect(((await refused.json()) as { type: string }).type).toBe('/problems/redis-key-conflict');
      expect(await root.xlen(normalStream)).toBe(lengthBefore);
      await root.del(...counts);
      expect((await fetch(`${api.url}/queues/inference`)).status).toBe(200);
    } finally {
      await Promise.all([api.stop(), worker.stop()]);
    }
  });
});
