import { createRedis } from '@conveyor/shared';
import { deletePrefix, RedisServer, startApi, uniquePrefix, waitFor, type ApiProcess } from '@conveyor/testing';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, test } from 'vitest';

test('on SIGTERM the API finishes the request in flight, closes its Redis connections and exits 0', { timeout: 30_000 }, async () => {
  // A Redis of its own, where no other test file's API holds connections of the same name.
  const server = await RedisServer.start();
  const prefix = uniquePrefix('api-stop');
  const redis = createRedis(server.url, { role: 'command', name: 'conveyor:test' });
  const api = await startApi({ redisUrl: server.url, prefix });
  try {
    // An upload that is still being sent when the signal arrives.
    const boundary = 'conveyor-slow-upload';
    const url = new URL(`${api.url}/documents`);
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const upload = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += String(chunk)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      upload.on('error', reject);
      upload.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\nContent-Type: text/plain\r\n\r\n`);
      upload.write('The first half arrives before the signal. ');
      void sleep(800).then(() => upload.end(`The second half arrives after it.\r\n--${boundary}--\r\n`));
    });
    await sleep(300);
    api.signal('SIGTERM');
    const answered = await response;
    expect(answered.status).toBe(202);
    expect(JSON.parse(answered.body)).toMatchObject({ status: 'queued' });
    expect(await api.exited).toEqual({ code: 0, signal: null });
    // Its last line says the stop finished (the log ended at "shutting down").
    expect(api.logs().at(-1)).toMatchObject({ level: 30, msg: 'api stopped' });
    await waitFor(async () => !((await redis.client('LIST')) as string).includes('name=conveyor:api'), 'the API connections to close', 5_000);
  } finally {
    api.signal('SIGKILL');
    redis.disconnect();
    await server.stop();
  }
});

/** An API and one raw connection to it; the API is killed and its keys deleted after `body`. */
async function withConnection(body: (api: ApiProcess, url: URL, connection: { socket: Socket; received: () => string; ended: Promise<unknown> }) => Promise<void>): Promise<void> {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('api-stop');
  const redis = createRedis(redisUrl, { role: 'command', name: 'conveyor:test' });
  const api = await startApi({ redisUrl, prefix });
  try {
    const url = new URL(api.url);
    const socket = connect(Number(url.port), url.hostname);
    let received = '';
    socket.on('data', (chunk) => (received += String(chunk)));
    const ended = new Promise((resolve) => socket.on('close', resolve));
    await body(api, url, { socket, received: () => received, ended });
  } finally {
    api.signal('SIGKILL');
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
}

test('a request that arrives while the API shuts down gets a 503 shutting-down problem with Retry-After', { timeout: 30_000 }, async () => {
  await withConnection(async (api, url, { socket, received, ended }) => {
    // One connection: an upload still being sent when the signal arrives, then a second request
    // pipelined behind it, which the API reads only once it is closing.
    const boundary = 'conveyor-slow-upload';
    const part = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\nContent-Type: text/plain\r\n\r\nslow upload\r\n--${boundary}--\r\n`;
    socket.write(`POST /documents HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${Buffer.byteLength(part)}\r\n\r\n${part.slice(0, 40)}`);
    await sleep(300);
    api.signal('SIGTERM');
    await sleep(500);
    const job = '{"model":"echo","prompt":"late"}';
    socket.write(`${part.slice(40)}POST /jobs HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${job.length}\r\n\r\n${job}`);
    await ended;
    const answers = received().split(/(?=HTTP\/1\.1 )/);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 202 /);
    expect(answers[1]).toMatch(/^HTTP\/1\.1 503 /);
    expect(answers[1]).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    expect(answers[1]).toMatch(/\r\nretry-after: \d+\r\n/i);
    expect(answers[1]).toContain('"type":"/problems/shutting-down"');
    expect(await api.exited).toEqual({ code: 0, signal: null });
  });
});

test('a request sent on a kept-alive connection just after SIGTERM is answered 503 shutting-down, not reset unanswered', { timeout: 30_000 }, async () => {
  await withConnection(async (api, url, { socket, received, ended }) => {
    const job = (prompt: string) => {
      const body = JSON.stringify({ model: 'echo', prompt });
      return `POST /jobs HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    };
    socket.write(job('before'));
    await waitFor(() => received().includes('"status":"queued"'), 'the first answer');
    // The connection is idle, kept alive, when the signal comes; its client sends on it a moment later.
    api.signal('SIGTERM');
    await sleep(100);
    socket.write(job('after'));
    await ended;
    const answers = received().split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 202 /);
    expect(answers[1]).toMatch(/^HTTP\/1\.1 503 /);
    expect(answers[1]).toMatch(/\r\nconnection: close\r\n/i);
    expect(answers[1]).toContain('"type":"/problems/shutting-down"');
    expect(await api.exited).toEqual({ code: 0, signal: null });
  });
});

test('an upload sent just after SIGTERM is read through, then answered 503 shutting-down: answered on its headers and closed, its client, still sending, was reset (EPIPE) before it read the answer', { timeout: 30_000 }, async () => {
  // The raw connection, kept alive and idle, keeps the closing API listening for its drain (DRAIN_MS).
  await withConnection(async (api, url, { socket, received }) => {
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    await waitFor(() => received().includes('"status":"ok"'), 'the first answer');
    api.signal('SIGTERM');
    await sleep(100);
    // A client busy elsewhere: it reads its answer only once its body is sent.
    const upload = connect({ port: Number(url.port), host: url.hostname, allowHalfOpen: true });
    const errors: string[] = [];
    upload.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
    upload.pause();
    const body = Buffer.alloc(256 * 1024, 'a');
    upload.write(`POST /documents HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${body.length}\r\n\r\n`);
    await sleep(200);
    for (let at = 0; at < body.length; at += 64 * 1024) {
      upload.write(body.subarray(at, at + 64 * 1024));
      await sleep(20);
    }
    let answer = '';
    upload.on('data', (chunk) => (answer += String(chunk)));
    upload.on('end', () => upload.end());
    upload.resume();
    await Promise.race([new Promise((resolve) => upload.on('close', resolve)), sleep(5_000)]);
    expect(errors).toEqual([]);
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toContain('"type":"/problems/shutting-down"');
    expect(await api.exited).toEqual({ code: 0, signal: null });
  });
});

test('a stopping API whose Redis hangs closes its connections within a second (it waited 10 s with nothing in flight); past SHUTDOWN_GRACE_MS it says so in a JSON log line and exits 1', { timeout: 30_000 }, async () => {
  const redisServer = await RedisServer.start();
  const prefix = uniquePrefix('api-stop');
  let api = await startApi({ redisUrl: redisServer.url, prefix });
  try {
    process.kill(redisServer.pid!, 'SIGSTOP');
    const signalled = Date.now();
    api.signal('SIGTERM');
    expect(await api.exited).toEqual({ code: 0, signal: null });
    // The drain of kept-alive connections (0.5 s), then each QUIT given a second.
    expect(Date.now() - signalled).toBeLessThan(4_000);
    process.kill(redisServer.pid!, 'SIGCONT');

    api = await startApi({ redisUrl: redisServer.url, prefix, env: { SHUTDOWN_GRACE_MS: '1s' } });
    // An upload still being sent when the grace runs out.
    const url = new URL(`${api.url}/documents`);
    const upload = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=b' } });
    upload.on('error', () => {});
    upload.write('--b\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\n\r\nnever finished');
    await sleep(200);
    api.signal('SIGTERM');
    expect(await api.exited).toEqual({ code: 1, signal: null });
    upload.destroy();
    expect(api.logs().find((line) => line['level'] === 50)).toMatchObject({ msg: 'stopping took longer than SHUTDOWN_GRACE_MS (1000 ms): exiting now, with requests unanswered (exit code 1)' });
    expect(api.logs().filter((line) => line['msg'] === 'api stopped')).toEqual([]);
  } finally {
    api.signal('SIGKILL');
    process.kill(redisServer.pid!, 'SIGCONT');
    await redisServer.stop();
  }
});
