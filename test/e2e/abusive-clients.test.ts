import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, keysUnder, launchApi, startApi, uniquePrefix, waitFor, type ApiProcess } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

/** A chat model, named only: a job for it is stored and never run here (no worker). Its params pass on nested JSON as given. */
const CHAT_MODEL = { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', OPENAI_CHAT_MODELS: 'chat-a' };

/**
 * One client trying to knock the API over or to read what it should not: the real API process
 * against the run's Redis, with small limits so they are reached quickly.
 */
const TOKEN = 'abusive-clients-admin-token-0123';
const prefix = uniquePrefix('abuse');
let api: ApiProcess;
let redis: Redis;

beforeAll(async () => {
  redis = createRedis(inject('redisUrl'), { role: 'command', name: 'abuse-test' });
  api = await startApi({ redisUrl: inject('redisUrl'), prefix, env: { ADMIN_TOKEN: TOKEN, MAX_EVENT_STREAMS: '3', REQUEST_TIMEOUT: '2s', SSE_HEARTBEAT: '200ms', LOG_LEVEL: 'debug', ...CHAT_MODEL } });
});

afterAll(async () => {
  await api?.stop();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const postJson = (path: string, body: string) => fetch(`${api.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

/** Opens an event stream and reads its first chunk; `close` ends it. */
async function openStream(path: string): Promise<{ status: number; body: string; close: () => void }> {
  const abort = new AbortController();
  const response = await fetch(`${api.url}${path}`, { signal: abort.signal });
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) return { status: response.status, body: await response.text(), close: () => {} };
  const reader = response.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  return { status: response.status, body: first, close: () => abort.abort() };
}

/**
 * Writes `request` on a raw connection (and, with `halfClose`, ends its sending side) and resolves
 * with what the server wrote back and when it closed the connection.
 */
function rawExchange(request: string | Buffer, giveUpMs: number, { halfClose = false } = {}): Promise<{ answer: string; closedAfterMs: number | undefined }> {
  const started = Date.now();
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect({ port: Number(new URL(api.url).port), host: '127.0.0.1', allowHalfOpen: halfClose }, () => (halfClose ? socket.end(request) : socket.write(request)));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ answer, closedAfterMs: undefined });
    }, giveUpMs);
    socket.on('data', (chunk) => (answer += String(chunk)));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closedAfterMs: Date.now() - started });
    });
  });
}

describe('event streams from one client', () => {
  test('past MAX_EVENT_STREAMS a new stream is a 503 too-many-streams problem with Retry-After; a closed stream frees its place', async () => {
    const { job_id: jobId } = (await (await postJson('/jobs', '{"model":"echo","prompt":"hi"}')).json()) as { job_id: string };
    // Opened side by side: each takes its place before it subscribes, so no more than 3 get through.
    const opened = await Promise.all([...Array(6).keys()].map((i) => openStream(i % 2 === 0 ? '/events?queue=inference' : `/jobs/${jobId}/events`)));
    expect(opened.map((stream) => stream.status).sort()).toEqual([200, 200, 200, 503, 503, 503]);
    const refused = opened.find((stream) => stream.status === 503)!;
    expect(JSON.parse(refused.body)).toMatchObject({ type: '/problems/too-many-streams', status: 503, limit: 3, detail: expect.stringContaining('MAX_EVENT_STREAMS') });
    const again = await fetch(`${api.url}/events?queue=inference`);
    expect(again.status).toBe(503);
    expect(again.headers.get('retry-after')).toBe('5');
    await again.text();
    // Every place taken, a job or queue that does not exist is still a 404: a retry cannot help it.
    for (const path of ['/jobs/inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ/events', '/events?queue=nosuchqueue']) {
      const missing = await fetch(`${api.url}${path}`);
      expect(missing.status, path).toBe(404);
      expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      await missing.text();
    }
    const existing = await fetch(`${api.url}/jobs/${jobId}/events`);
    expect(existing.status).toBe(503);
    await existing.text();

    opened.filter((stream) => stream.status === 200)[0]!.close();
    const reopened = await waitFor(async () => {
      const stream = await openStream('/events?queue=inference');
      return stream.status === 200 ? stream : undefined;
    }, 'a place to be free again');
    expect(reopened.body).toContain('retry: 3000');
    for (const stream of [...opened, reopened]) stream.close();
    // Requests refused after taking a place (a job that does not exist) give it back.
    for (let i = 0; i < 5; i++) {
      await waitFor(async () => ((await openStream('/jobs/inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ/events')).status === 404 ? true : undefined), 'a 404 for a job that does not exist');
    }
    const all = await waitFor(async () => {
      const streams = await Promise.all([1, 2, 3].map(() => openStream('/events?queue=inference')));
      if (streams.every((stream) => stream.status === 200)) return streams;
      for (const stream of streams) stream.close();
      return undefined;
    }, 'every place to be free again');
    for (const stream of all) stream.close();
  });
});

describe('deeply nested job parameters', () => {
  const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

  test('params nested past 64 levels are a 400 naming the limit, on POST /jobs and /jobs/batch, and nothing is written (100,000 levels used to overflow the stack: a 500)', async () => {
    const before = await keysUnder(redis, prefix);
    // Past 128 levels in all, the body is refused before it is parsed (see deep-bodies.test.ts).
    const tooDeepToRead = /^body: nests arrays and objects more than 128 levels deep; params may nest at most 64/;
    for (const [path, body, said] of [
      ['/jobs', `{"model":"echo","params":${nested(100_000)}}`, tooDeepToRead],
      ['/jobs', `{"model":"echo","params":${nested(65)}}`, /params: may nest objects and arrays at most 64 levels deep/],
      ['/jobs/batch', `{"jobs":[{"model":"echo","params":${nested(100_000)}}]}`, tooDeepToRead],
    ] as const) {
      const response = await postJson(path, body);
      expect(response.status, path).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await response.json()) as { detail: string }).detail, path).toMatch(said);
    }
    expect(await keysUnder(redis, prefix)).toEqual(before);
    // 64 levels in all: a chat model's response_format (an object it passes on as given) under params.
    expect((await postJson('/jobs', `{"model":"chat-a","prompt":"x","params":{"response_format":{"type":"json_schema","json_schema":${nested(62)}}}}`)).status).toBe(202);
  });
});

describe('bodies that would make thousands of validation errors', () => {
  const fields = (count: number, value: string) => `{${[...Array(count).keys()].map((i) => `"k${i}":${value}`).join(',')}}`;

  test('a batch of 1,000 jobs with 1,000 bad metadata fields each is one error per job, and the problem lists 20 of them: a few KB, not 108 MB after 23 s', async () => {
    // Numbers, not arrays: a million arrays is refused before it is parsed (deep-bodies.test.ts).
    const body = `{"jobs":[${Array(1_000).fill(`{"model":"echo","metadata":${fields(1_000, '1')}}`).join(',')}]}`;
    const started = Date.now();
    const response = await postJson('/jobs/batch', body);
    const text = await response.text();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(response.status).toBe(400);
    expect(text.length).toBeLessThan(10_000);
    const problem = JSON.parse(text) as { detail: string; errors: unknown[] };
    expect(problem.errors).toHaveLength(20);
    expect(problem.errors[0]).toEqual({ path: 'body.jobs.0.metadata', message: 'may hold at most 100 fields' });
    expect(problem.detail).toMatch(/; and 980 more \(fix these and send it again\)$/);
  });

  test('metadata takes 100 fields, not 101; 90,000 unknown fields are named 10 at a time, not in a 2 MB problem', async () => {
    expect((await postJson('/jobs', `{"model":"echo","metadata":${fields(100, '1')}}`)).status).toBe(202);
    const over = await postJson('/jobs', `{"model":"echo","metadata":${fields(101, '1')}}`);
    expect(over.status).toBe(400);
    expect(((await over.json()) as { detail: string }).detail).toBe('body.metadata: may hold at most 100 fields');
    const unknown = await postJson('/jobs', `{"model":"echo",${fields(90_000, '1').slice(1)}`);
    const text = await unknown.text();
    expect(unknown.status).toBe(400);
    expect(text.length).toBeLessThan(2_000);
    expect(JSON.parse(text)).toMatchObject({ detail: 'body: has fields it does not take: "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9" and 89990 more' });
  });
});

describe('slow clients', () => {
  test('a body that stops arriving is answered 408 and its connection closed once REQUEST_TIMEOUT passes, as are headers that never end', async () => {
    const [stalledBody, endlessHeaders] = await Promise.all([
      rawExchange('POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":', 8_000),
      rawExchange('GET /healthz HTTP/1.1\r\nHost: x\r\nX-One: 1\r\n', 8_000),
    ]);
    for (const exchange of [stalledBody, endlessHeaders]) {
      expect(exchange.closedAfterMs, exchange.answer).toBeDefined();
      expect(exchange.closedAfterMs!).toBeGreaterThanOrEqual(1_900);
      expect(exchange.answer).toMatch(/^HTTP\/1\.1 408 .*\r\nContent-Type: application\/problem\+json/s);
    }
  });

  test('a client that stops reading its answers is cut off once nothing has moved for twice REQUEST_TIMEOUT (Node may let that pass once), not kept with them for ever', async () => {
    // Ten answers of 1.6 MB each, more than socket buffers take in, so the API holds the rest.
    const request = 'GET /docs/static/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(10);
    const socket = connect(Number(new URL(api.url).port), '127.0.0.1', () => {
      socket.write(request);
      socket.pause();
    });
    socket.on('error', () => {});
    // Node lets one timeout pass when the answer moved since the last (4 s here), so it cuts after 8 s.
    await sleep(10_000);
    // Reading again: what the kernel had taken in arrives, then the end, long before 16 MB.
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.resume();
    const ended = await Promise.race([new Promise((resolve) => socket.once('close', () => resolve(true))), sleep(5_000).then(() => false)]);
    socket.destroy();
    expect(ended).toBe(true);
    expect(received).toBeLessThan(10 * 1_600_000);
  });

  test('an event stream lives on past REQUEST_TIMEOUT: the limit is on the request arriving, not on the answer', async () => {
    const abort = new AbortController();
    const response = await fetch(`${api.url}/events?queue=inference`, { signal: abort.signal });
    const reader = response.body!.getReader();
    const started = Date.now();
    let heartbeats = 0;
    while (Date.now() - started < 3_500) {
      const { done, value } = await reader.read();
      expect(done).toBe(false);
      heartbeats += (new TextDecoder().decode(value).match(/: heartbeat/g) ?? []).length;
    }
    abort.abort();
    expect(heartbeats).toBeGreaterThan(10);
  });
});

describe('clients that half-close their connection after their requests', () => {
  test('get every answer before the connection closes: a POST /jobs its 202 (the job stored once), and a GET pipelined behind it its 200', async () => {
    const before = await redis.hlen(`${prefix}:{inference}:queued`);
    const body = JSON.stringify({ model: 'echo', prompt: 'sent, then half-closed' });
    const requests =
      `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` +
      'GET /queues/inference HTTP/1.1\r\nHost: x\r\n\r\n';
    const { answer, closedAfterMs } = await rawExchange(requests, 5_000, { halfClose: true });
    expect(closedAfterMs).toBeDefined();
    // Answers follow each other on the connection: a status line can start right after a body.
    expect([...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]))).toEqual([202, 200]);
    const jobId = /"job_id":"([^"]+)"/.exec(answer)![1]!;
    const job = (await (await fetch(`${api.url}/jobs/${jobId}`)).json()) as { input: unknown };
    expect(job.input).toMatchObject({ prompt: 'sent, then half-closed' });
    expect(await redis.hlen(`${prefix}:{inference}:queued`)).toBe(before + 1);
  });

  test('an event stream whose client half-closes (or goes) ends at once and gives its place back', async () => {
    const { answer, closedAfterMs } = await rawExchange('GET /events?queue=inference HTTP/1.1\r\nHost: x\r\n\r\n', 5_000, { halfClose: true });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    // Well within the 200 ms heartbeat, whose failed write would otherwise be what ends it.
    expect(closedAfterMs).toBeLessThan(150);
  });
});

describe('header values that make a regular expression backtrack', () => {
  test('16 requests whose Content-Encoding is 16,000 no-break spaces (0xA0) then x are refused with a 415 within a second in all; one took 130 ms of the event loop', async () => {
    const request = Buffer.concat([
      Buffer.from('POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\nContent-Encoding: '),
      Buffer.alloc(16_000, 0xa0),
      Buffer.from('x\r\n\r\n{}'),
    ]);
    const started = Date.now();
    const exchanges = await Promise.all([...Array(16).keys()].map(() => rawExchange(request, 10_000)));
    const elapsed = Date.now() - started;
    for (const exchange of exchanges) expect(exchange.answer).toMatch(/^HTTP\/1\.1 415 /);
    expect(elapsed).toBeLessThan(1_000);
  });
});

describe('events published by any Redis client', () => {
  test('a message on a queue\'s events channel that is not a job event (null, a list, a name with a newline) neither stops the API nor writes into event streams', async () => {
    const abort = new AbortController();
    const response = await fetch(`${api.url}/events?queue=inference`, { signal: abort.signal });
    const reader = response.body!.getReader();
    let text = '';
    const readUntil = async (marker: string) => {
      while (!text.includes(marker)) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`the stream ended before "${marker}"; the API ${api.running ? 'runs' : 'stopped'}:\n${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil('event: subscribed');
    const channel = new QueueKeys(prefix, 'inference').events;
    for (const message of ['null', '[]', '"text"', '{"event":5,"job_id":"inference:1-1"}', '{"event":"x\\ndata: {\\"forged\\":true}\\n\\nevent: completed","job_id":"inference:1-1"}']) {
      await redis.publish(channel, message);
    }
    await redis.publish(channel, '{"event":"queued","job_id":"inference:1-1","at":1,"stage":"infer"}');
    await readUntil('event: queued');
    abort.abort();
    expect(text).not.toContain('forged');
    expect(text.match(/^event: /gm)).toEqual(['event: ', 'event: ']);
    expect(api.running).toBe(true);
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
  });
});

describe('admin token', () => {
  test('the Bearer scheme is taken in any case and after several spaces (RFC 9110); a wrong or extra token is still a 401', async () => {
    const resume = (authorization: string) => fetch(`${api.url}/queues/inference/resume`, { method: 'POST', headers: { authorization } });
    for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER  ${TOKEN}`]) expect((await resume(authorization)).status, authorization).toBe(200);
    for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN} ${TOKEN}`, `Basic ${TOKEN}`, TOKEN, 'Bearer', `Bearer ${'t'.repeat(15_000)}`]) {
      const response = await resume(authorization);
      expect(response.status, authorization.slice(0, 40)).toBe(401);
      expect(await response.text()).not.toContain(TOKEN);
    }
  });

  test('the token appears in no log line, at debug level, whatever was sent', async () => {
    await waitFor(() => api.logs().some((line) => line['msg'] === 'request'), 'request log lines');
    expect(api.lines.filter((line) => line.includes(TOKEN))).toEqual([]);
  });
});

describe('configuration errors', () => {
  test("a REDIS_URL that is not a valid URL is shown with everything before its last @ masked, whatever the password holds", async () => {
    for (const [url, shown] of [
      ['redis://app:pa/ss@cache.example:6379', 'redis://***@cache.example:6379'],
      ['redis://app:p@ss@cache.example:99999', 'redis://***@cache.example:99999'],
      ['app:pa ss@cache.example', '***@cache.example'],
    ] as const) {
      const failing = await launchApi({ redisUrl: url, prefix });
      expect((await failing.exited).code).toBe(1);
      const output = failing.lines.join('\n');
      expect(output).toContain(`REDIS_URL (got "${shown}")`);
      expect(output).not.toMatch(/pa\/ss|p@ss|pa ss/);
    }
  });
});
