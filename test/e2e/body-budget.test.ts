import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, startApi, uniquePrefix, waitFor, type ApiProcess } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

/**
 * BODY_BUDGET: the bytes of uploads and batches one API process holds at once. Slow uploads are
 * written by hand on raw connections and held half sent, against the real API process.
 */
const MiB = 1024 * 1024;
const prefix = uniquePrefix('budget');
let api: ApiProcess;
let redis: Redis;

beforeAll(async () => {
  redis = createRedis(inject('redisUrl'), { role: 'command', name: 'body-budget-test' });
  api = await startApi({ redisUrl: inject('redisUrl'), prefix, env: { BODY_BUDGET: '4MiB', MAX_DOCUMENT_BYTES: '3MiB' } });
});

afterAll(async () => {
  await api?.stop();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const BOUNDARY = 'budget-boundary';

/** A multipart body holding one text file of `size` bytes. */
function uploadBody(size: number): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n`),
    Buffer.alloc(size, 'a'),
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

interface HeldUpload {
  socket: Socket;
  /** Sends the rest of the body; resolves with the answer's status line and body. */
  finish: () => Promise<string>;
}

/**
 * An upload of `size` bytes whose headers and first kilobyte are sent, the rest held back;
 * `chunked` sends it without a Content-Length.
 */
async function holdUpload(size: number, { chunked = false } = {}): Promise<HeldUpload> {
  const body = uploadBody(size);
  const socket = connect({ port: Number(new URL(api.url).port), host: '127.0.0.1' });
  await new Promise((resolve) => socket.once('connect', resolve));
  let answer = '';
  socket.on('data', (chunk) => (answer += String(chunk)));
  socket.on('error', () => {});
  const length = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
  socket.write(`POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n${length}\r\n\r\n`);
  const frame = (part: Buffer) => (chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part);
  socket.write(frame(body.subarray(0, 1024)));
  const finish = async () => {
    socket.write(frame(body.subarray(1024)));
    if (chunked) socket.write('0\r\n\r\n');
    await waitFor(() => /\r\n\r\n\{.*\}$/s.test(answer), 'the upload\'s answer', 10_000);
    socket.destroy();
    return answer;
  };
  return { socket, finish };
}

function postUpload(size: number): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([Buffer.alloc(size, 'b')], { type: 'text/plain' }), 'doc.txt');
  return fetch(`${api.url}/documents`, { method: 'POST', body: form });
}

/**
 * A body of `size` bytes that is not a form: 415 once let in, so it stores nothing either way;
 * 503 while the budget has no room for it.
 */
async function probe(size: number): Promise<number> {
  const response = await fetch(`${api.url}/documents`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: Buffer.alloc(size, 'c') });
  await response.arrayBuffer();
  return response.status;
}

function postBatch(): Promise<Response> {
  return fetch(`${api.url}/jobs/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jobs: [{ model: 'echo', prompt: 'small' }] }) });
}

/** Job records and queued entries of the documents queue: what a refused upload must not leave. */
async function documentsStored(): Promise<number> {
  return redis.xlen(new QueueKeys(prefix, 'documents').stream('extract', 'normal'));
}

async function expectRefused(response: Response, heldMiB: string): Promise<void> {
  expect(response.status).toBe(503);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.headers.get('retry-after')).toBe('1');
  const problem = (await response.json()) as { detail: string };
  expect(problem).toMatchObject({ type: '/problems/busy', status: 503, budget_bytes: 4 * MiB });
  expect(problem.detail).toContain(`already holds ${heldMiB} of its BODY_BUDGET (4 MiB)`);
}

describe('BODY_BUDGET', () => {
  test('an upload that would pass the budget is a 503 busy problem with Retry-After, storing nothing; a small batch that fits goes in; the place comes back when the held upload is answered', async () => {
    const before = await documentsStored();
    const held = await holdUpload(3 * MiB - 4096);
    await waitFor(async () => (await probe(2 * MiB)) === 503, 'the held upload to fill the budget');
    await expectRefused(await postUpload(2 * MiB), '3 MiB');
    expect(await documentsStored()).toBe(before);

    expect((await postBatch()).status).toBe(202);

    expect(await held.finish()).toMatch(/^HTTP\/1\.1 202 /);
    expect((await postUpload(2 * MiB)).status).toBe(202);
    expect(await documentsStored()).toBe(before + 2);
  });

  test('an upload whose body stops arriving is cut with a 408 after half of REQUEST_TIMEOUT without a byte, and its place comes back: it held every upload and batch off for REQUEST_TIMEOUT', { timeout: 30_000 }, async () => {
    const own = await startApi({ redisUrl: inject('redisUrl'), prefix, env: { BODY_BUDGET: '4MiB', MAX_DOCUMENT_BYTES: '3MiB', REQUEST_TIMEOUT: '8s' } });
    try {
      const socket = connect({ port: Number(new URL(own.url).port), host: '127.0.0.1' });
      await new Promise((resolve) => socket.once('connect', resolve));
      let answer = '';
      socket.on('data', (chunk) => (answer += String(chunk)));
      socket.on('error', () => {});
      const closed = new Promise((resolve) => socket.once('close', resolve));
      const body = uploadBody(3 * MiB - 4096);
      socket.write(`POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body.subarray(0, 1024));
      const sentAt = Date.now();
      // 503 while the budget has no room for 2 MiB, 415 (not a form, nothing stored) once it has.
      const probeOwn = async () => {
        const response = await fetch(`${own.url}/documents`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: Buffer.alloc(2 * MiB, 'c') });
        await response.arrayBuffer();
        return response.status;
      };
      await waitFor(async () => (await probeOwn()) === 503, 'the stalled upload to hold the budget');
      await closed;
      const cutAfter = Date.now() - sentAt;
      expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
        type: 'about:blank',
        title: 'Request Timeout',
        status: 408,
        detail: "The body stopped arriving: nothing came for 4 s while this upload or batch held its place in the API's BODY_BUDGET, which other uploads and batches wait for. Nothing was stored; send it again.",
      });
      // Cut for its silence, before REQUEST_TIMEOUT would have.
      expect(cutAfter).toBeGreaterThanOrEqual(4_000);
      expect(cutAfter).toBeLessThan(8_000);
      expect(await probeOwn()).toBe(415);
    } finally {
      await own.stop();
    }
  });

  test('an upload whose client goes away gives its place back', async () => {
    const held = await holdUpload(3 * MiB - 4096);
    await waitFor(async () => (await probe(2 * MiB)) === 503, 'the held upload to fill the budget');
    held.socket.destroy();
    await waitFor(async () => (await probe(2 * MiB)) === 415, 'the place to come back');
    expect((await postUpload(2 * MiB)).status).toBe(202);
    // Given back once: a place given back twice (the socket's close and the answer's) let the
    // next uploads past the budget.
    const again = await holdUpload(3 * MiB - 4096);
    await waitFor(async () => (await probe(2 * MiB)) === 503, 'a new held upload to fill the budget again');
    again.socket.destroy();
  });

  test('an upload pipelined behind a request still being answered waits unread and holds no place until its turn; its client closing the connection leaves the budget as it was', async () => {
    const socket = connect({ port: Number(new URL(api.url).port), host: '127.0.0.1' });
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (chunk) => (received += String(chunk)));
    socket.on('error', () => {});
    // An event stream is answered for as long as the connection lasts: the upload behind it waits
    // for its turn, which never comes. It held a place from its headers on (and, with a request
    // that could be stored, ran while its answer could never be written).
    socket.write(
      'GET /events?queue=inference HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' +
        `POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${3 * MiB}\r\n\r\n`,
    );
    // Both requests were read by then: they came in one write, and the stream has answered.
    await waitFor(() => received.includes('event: subscribed'), 'the event stream to answer');
    expect(await probe(2 * MiB)).toBe(415);
    socket.destroy();
    expect(await probe(2 * MiB)).toBe(415);
  });

  test('a chunked upload (no Content-Length) holds the route\'s whole limit, and is let in alone though that passes the budget', async () => {
    const held = await holdUpload(512 * 1024, { chunked: true });
    // 3 MiB of file and 2 MiB for the form's fields: 5 MiB held, so even a small batch waits.
    await waitFor(async () => (await probe(1024)) === 503, 'the chunked upload to fill the budget');
    await expectRefused(await postBatch(), '5 MiB');
    expect(await held.finish()).toMatch(/^HTTP\/1\.1 202 /);
    expect((await postBatch()).status).toBe(202);
  });
});
