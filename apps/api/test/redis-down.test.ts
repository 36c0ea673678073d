import { freePort, RedisServer, waitFor } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import { form } from './multipart-form.js';
import { buildTestApp } from './test-app.js';

/**
 * Redis runs one thing at a time: a script that spins for 1.6 s keeps every other client waiting
 * longer than the API's one-second command timeout, then runs what they sent.
 */
async function stallRedis(staller: Redis): Promise<{ over: Promise<unknown> }> {
  // Resolves once Redis is held: a probe's PING goes unanswered for 50 ms. On a loaded machine the
  // script reached Redis after the requests it was to hold (sent 100 ms later), which then got 202s.
  const probe = staller.duplicate();
  await Promise.all([staller.ping(), probe.ping()]);
  const over = staller.eval("local s = redis.call('TIME') while (redis.call('TIME')[1] - s[1]) * 1e6 + redis.call('TIME')[2] - s[2] < 1600000 do end return 1", 0);
  try {
    while (await Promise.race([probe.ping().then(() => true), new Promise((resolve) => setTimeout(resolve, 50, false))]));
  } finally {
    probe.disconnect();
  }
  return { over };
}

test('while Redis is unreachable, POST answers 503 with Retry-After within a second and /readyz fails; /healthz stays up', async () => {
  const closedPort = await freePort();
  const app = await buildTestApp(`redis://127.0.0.1:${closedPort}`, 'down', { EXPECT_REDIS_DOWN: '1' });
  try {
    const started = Date.now();
    const response = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi' } });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json()).toMatchObject({
      type: '/problems/service-unavailable',
      detail: 'Redis is unreachable (the API has no connection to Redis and is reconnecting; GET /readyz says why). Nothing was written.',
    });
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    // A read has nothing to write: it is told to ask again.
    const read = await app.inject({ url: '/jobs/inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ' });
    expect(read.statusCode).toBe(503);
    expect(read.json().detail).toBe('Redis is unreachable (the API has no connection to Redis and is reconnecting; GET /readyz says why). Send the request again after Retry-After.');
  } finally {
    await app.close();
  }
});

test('/readyz says why Redis does not answer: the connection\'s own error, such as a wrong password', async () => {
  const server = await RedisServer.start();
  const root = new Redis(server.url);
  await root.config('SET', 'requirepass', 'right-password');
  root.disconnect();
  const closedPort = await freePort();
  const wrong = await buildTestApp(`redis://:wrong-password@127.0.0.1:${server.port}`, 'wrong', { EXPECT_REDIS_DOWN: '1' });
  const closed = await buildTestApp(`redis://127.0.0.1:${closedPort}`, 'closed', { EXPECT_REDIS_DOWN: '1' });
  const none = await buildTestApp(`redis://127.0.0.1:${server.port}`, 'none', { EXPECT_REDIS_DOWN: '1' });
  try {
    for (const [app, why] of [
      [wrong, /^Redis refuses the API's login \(check the user and password in REDIS_URL\): WRONGPASS invalid username-password pair/],
      [closed, new RegExp(`^Redis does not answer: connect ECONNREFUSED 127\\.0\\.0\\.1:${closedPort}`)],
    ] as const) {
      await waitFor(() => app.redisConnectionError() !== undefined, 'a connection error');
      const response = await app.inject({ url: '/readyz' });
      expect(response.statusCode).toBe(503);
      expect(response.json().detail).toMatch(why);
    }
    // A job sent meanwhile is told the same: Redis refuses the login (it said "unreachable", a network fault to look for).
    const refused = await wrong.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi' } });
    expect(refused.statusCode).toBe(503);
    expect(refused.json().detail).toMatch(/^Redis refuses the API's login \(WRONGPASS invalid username-password pair[^)]*\): the user and password in REDIS_URL are not ones it takes\. Nothing was written\.$/);
    await waitFor(() => none.redisConnectionError() !== undefined, 'a connection error');
    const noPassword = await none.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi' } });
    expect(noPassword.json().detail).toMatch(/^Redis refuses the API's login \(NOAUTH [^)]*\): it asks for a password, and REDIS_URL gives none\. Nothing was written\.$/);
    const down = await closed.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi' } });
    expect(down.json().detail).toMatch(/^Redis is unreachable \(the API has no connection to Redis and is reconnecting; GET \/readyz says why\)\. Nothing was written\.$/);
  } finally {
    await Promise.all([wrong.close(), closed.close(), none.close()]);
    await server.stop();
  }
});

test('/readyz fails while the connection for uploads is down, and says why; small jobs go on meanwhile', async () => {
  const server = await RedisServer.start();
  const app = await buildTestApp(server.url, 'large-down');
  const admin = new Redis(server.url);
  try {
    await waitFor(async () => (await app.inject({ url: '/readyz' })).statusCode === 200, 'the API to be ready');
    // Redis takes no more clients than it has once the large-value connection is gone, and that
    // connection is then cut: it cannot come back (a Redis at its maxclients is a real cause).
    const clients = ((await admin.client('LIST')) as string).trim().split('\n');
    const large = clients.find((line) => line.includes(' name=conveyor:api:large '))!;
    await admin.config('SET', 'maxclients', String(clients.length - 1));
    await admin.client('KILL', 'ID', /^id=(\d+)/.exec(large)![1]!);
    await waitFor(() => app.redisConnectionError() !== undefined, 'the connection to report its error');

    const readiness = await app.inject({ url: '/readyz' });
    expect(readiness.statusCode).toBe(503);
    // Redis closes the connection at once: ioredis reports its own failure (EPIPE, "Stream isn't
    // writeable") when it wrote first, or nothing at all, and the close is then the reason.
    expect(readiness.json().detail).toMatch(/^Redis does not answer: .+ \(the connection for uploads, large batches and whole outputs\)$/);
    expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'small' } })).statusCode).toBe(202);
    const upload = await app.inject({ method: 'POST', url: '/documents', ...form([{ name: 'file', filename: 'report.txt', content: Buffer.alloc(1_100_000, 'a') }]) });
    expect(upload.statusCode).toBe(503);
    expect(upload.json().detail).toMatch(/Nothing was written\.$/);

    await admin.config('SET', 'maxclients', '10000');
    await waitFor(async () => (await app.inject({ url: '/readyz' })).statusCode === 200, 'the API to be ready again', 10_000);
  } finally {
    admin.disconnect();
    await app.close();
    await server.stop();
  }
});

test('when Redis takes too long to answer, a 503 does not claim nothing was written: it names the job to look up', async () => {
  const server = await RedisServer.start();
  const app = await buildTestApp(server.url, 'stall');
  const staller = new Redis(server.url);
  try {
    const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload: payload as object, headers });
    let stalled = (await stallRedis(staller)).over;
    const [single, batch, keyed] = await Promise.all([
      post('/jobs', { model: 'echo', prompt: 'during a stall' }),
      post('/jobs/batch', { jobs: [{ model: 'echo', prompt: 'b1' }, { model: 'echo', prompt: 'b2' }] }),
      post('/jobs', { model: 'echo', prompt: 'keyed' }, { 'idempotency-key': 'stall-key-1' }),
    ]);
    await stalled;

    expect(single.statusCode).toBe(503);
    // Each such 503 is counted (and logged): the single job's and the batch's were not.
    expect(gauge((await app.inject({ url: '/metrics' })).body, 'conveyor_redis_errors_total')).toBe(3);
    const jobId = single.json().job_id as string;
    expect(single.json().detail).toMatch(new RegExp(`^Redis did not answer \\(Command timed out\\), so it is not known whether the job was stored\\. It was sent as ${jobId}: GET /jobs/${jobId} finds it if it was`));
    expect(single.json().detail).not.toContain('Nothing was written');
    // It was: Redis ran the script once the stall ended.
    expect((await app.inject({ url: `/jobs/${jobId}` })).json()).toMatchObject({ id: jobId, input: { prompt: 'during a stall' } });

    expect(batch.statusCode).toBe(503);
    const jobIds = batch.json().job_ids as string[];
    expect(jobIds).toHaveLength(2);
    for (const id of jobIds) expect((await app.inject({ url: `/jobs/${id}` })).statusCode).toBe(200);

    // With an Idempotency-Key the answer says to send it again, and doing so finds the stored job.
    // (It told this client to send the key it had sent.)
    expect(keyed.statusCode).toBe(503);
    expect(keyed.json().detail).toMatch(/not known: send it again as it was after Retry-After: its idempotency keys store each job once\.$/);
    const again = await post('/jobs', { model: 'echo', prompt: 'keyed' }, { 'idempotency-key': 'stall-key-1' });
    expect(again.statusCode).toBe(200);

    // Cancelling during a stall: the same honest answer. Reading: just send it again.
    stalled = (await stallRedis(staller)).over;
    const [cancel, read] = await Promise.all([app.inject({ method: 'DELETE', url: `/jobs/${jobId}` }), app.inject({ url: `/jobs/${jobId}` })]);
    await stalled;
    expect(cancel.statusCode).toBe(503);
    // A route that takes no Idempotency-Key is not told to send one.
    expect(cancel.json().detail).toBe('Redis did not answer (Command timed out), so whether this request took effect is not known: look before sending it again.');
    expect(read.statusCode).toBe(503);
    expect(read.json().detail).toBe('Redis did not answer (Command timed out). Send the request again after Retry-After.');
  } finally {
    staller.disconnect();
    await app.close();
    await server.stop();
  }
});

test('through the same stall, an upload and a batch of over a megabyte wait for Redis and are stored, while a small job beside them gets its 503 after a second', async () => {
  const server = await RedisServer.start();
  const app = await buildTestApp(server.url, 'large-stall');
  const staller = new Redis(server.url);
  try {
    const document = Buffer.from('A long report. '.repeat(100_000));
    const upload = form([{ name: 'file', filename: 'report.txt', content: document }]);
    const batch = { jobs: Array.from({ length: 4 }, (_, i) => ({ model: 'echo', prompt: `${i} ${'long prompt '.repeat(30_000)}` })) };
    const stalled = (await stallRedis(staller)).over;
    const started = Date.now();
    // The small job first: sent after the large bodies were read, on a loaded machine it reached
    // Redis less than a second before the stall ended, and was stored (202).
    const [single, uploaded, batched] = await Promise.all([
      app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'small' } }),
      app.inject({ method: 'POST', url: '/documents', ...upload }),
      app.inject({ method: 'POST', url: '/jobs/batch', payload: batch }),
    ]);
    await stalled;

    expect(single.statusCode).toBe(503);
    expect(single.json().detail).toMatch(/^Redis did not answer \(Command timed out\)/);
    // Answered once the stall was over, 1.5 s after they were sent: past the one second.
    expect(Date.now() - started).toBeGreaterThan(1_200);
    expect(uploaded.statusCode, uploaded.body).toBe(202);
    expect(batched.statusCode, batched.body).toBe(202);
    const view = (await app.inject({ url: `/jobs/${uploaded.json().job_id}` })).json();
    expect(view).toMatchObject({ status: 'queued', input: { filename: 'report.txt', size: document.length } });
    for (const { job_id } of batched.json().jobs as { job_id: string }[]) expect((await app.inject({ url: `/jobs/${job_id}` })).json()).toMatchObject({ status: 'queued' });
  } finally {
    staller.disconnect();
    await app.close();
    await server.stop();
  }
});

test('a request whose connection to Redis is lost while it is out is told so in words, not the Redis client\'s', async () => {
  const server = await RedisServer.start();
  const app = await buildTestApp(server.url, 'lost');
  const staller = new Redis(server.url);
  try {
    // Held in Redis behind a script, then the server is gone before it answers.
    void (await stallRedis(staller)).over.catch(() => undefined);
    const cancel = app.inject({ method: 'DELETE', url: '/jobs/inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.kill('SIGKILL');
    const answer = await cancel;
    expect(answer.statusCode, answer.body).toBe(503);
    expect(answer.json().detail).toMatch(/^Redis did not answer \(the connection to Redis was lost while the request was out; the API is reconnecting, and GET \/readyz says why\), so whether this request took effect is not known: look before sending it again\.$/);
  } finally {
    staller.disconnect();
    await app.close();
    await server.stop();
  }
});

/** A gauge's value for these labels in a /metrics text, or undefined when it has none. */
function gauge(text: string, line: string): number | undefined {
  const found = text.split('\n').find((each) => each.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

test('the API recovers by itself when Redis comes back; meanwhile /metrics keeps the backlog it last read and says it could not read it (it reported zeros)', async () => {
  const server = await RedisServer.start();
  const app = await buildTestApp(server.url, 'back');
  try {
    for (let i = 0; i < 3; i++) expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode).toBe(202);
    const before = (await app.inject({ url: '/metrics' })).body;
    expect(gauge(before, 'conveyor_stage_waiting{queue="inference",stage="infer"}')).toBe(3);
    expect(gauge(before, 'conveyor_backlog_readable')).toBe(1);
    await server.kill('SIGKILL');
    expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode).toBe(503);
    const scrape = await app.inject({ url: '/metrics' });
    expect(scrape.statusCode).toBe(200);
    expect(gauge(scrape.body, 'conveyor_stage_waiting{queue="inference",stage="infer"}')).toBe(3);
    expect(gauge(scrape.body, 'conveyor_backlog_readable')).toBe(0);
    await server.restart();
    let status = 0;
    for (let i = 0; i < 100 && status !== 202; i++) {
      status = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode;
      if (status !== 202) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(202);
    expect(gauge((await app.inject({ url: '/metrics' })).body, 'conveyor_backlog_readable')).toBe(1);
  } finally {
    await app.close();
    await server.stop();
  }
});
