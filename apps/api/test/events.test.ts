import { createRedis, QueueKeys, type RedisClient } from '@conveyor/shared';
import { readSseEvents, RedisServer, redisTest, startWorker, waitFor, type SseEvent, type WorkerProcess } from '@conveyor/testing';
import { connect, type Socket } from 'node:net';
import { describe, expect, onTestFinished } from 'vitest';
import type { App } from '../src/app.js';
import { unsentLimit } from '../src/services/sse-stream.js';
import { buildTestApp } from './test-app.js';

/** Reads an SSE response until it ends (or `until` says stop), parsing each event. */
async function readEvents(url: string, onOpen?: () => void, until?: (events: SseEvent[]) => boolean, init: RequestInit = {}): Promise<SseEvent[]> {
  const response = await fetch(url, init);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  onOpen?.();
  return readSseEvents(response.body!, { until });
}

const test = redisTest.extend<{ app: App; url: string; worker: WorkerProcess }>({
  app: async ({ redisUrl, prefix }, use) => {
    const app = await buildTestApp(redisUrl, prefix, { SSE_HEARTBEAT: '200ms', MAX_BACKLOG: '0' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    await use(app);
    await app.close();
  },
  url: async ({ app }, use) => use(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`),
  worker: async ({ redisUrl, prefix }, use) => {
    const worker = await startWorker({ redisUrl, prefix });
    await use(worker);
    await worker.stop();
  },
});

describe('job events over Server-Sent Events', () => {
  test('a client sees the current state, then every transition of the job in order, and the stream ends after the last', async ({ app, url, redisUrl, prefix }) => {
    const form = new FormData();
    form.append('file', new Blob(['Streams keep tasks until a worker acknowledges them. Workers scale out. Nothing is lost.']), 'a.txt');
    const { job_id } = (await (await fetch(`${url}/documents`, { method: 'POST', body: form })).json()) as { job_id: string };
    // No worker yet: the client connects while the job waits, then a worker starts.
    let worker: WorkerProcess | undefined;
    const events = await readEvents(`${url}/jobs/${job_id}/events`, () => void startWorker({ redisUrl, prefix }).then((started) => (worker = started)));
    await worker?.stop();
    expect(events.map((e) => `${e.event}:${e.event === 'state' ? e.data['status'] : e.data['stage']}`)).toEqual([
      'state:queued',
      'active:extract',
      'stage-completed:extract',
      'active:analyze',
      'progress:analyze',
      'stage-completed:analyze',
      'active:summarize',
      'stage-completed:summarize',
      'active:embed',
      'completed:embed',
    ]);
    expect(events.slice(1).every((e) => e.data['job_id'] === job_id)).toBe(true);
    expect(app.events.listeners).toBe(0);
  });

  test('a client that connects after the job finished gets its final state and the stream ends', async ({ url, worker }) => {
    void worker;
    const { job_id } = (await (await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"done"}' })).json()) as { job_id: string };
    await waitFor(async () => ((await (await fetch(`${url}/jobs/${job_id}`)).json()) as { status: string }).status === 'completed', 'the job');
    const events = await readEvents(`${url}/jobs/${job_id}/events`);
    expect(events).toEqual([{ id: 'end', event: 'state', data: expect.objectContaining({ status: 'completed', result: { model: 'echo', text: 'done' } }) }]);
  });

  test('streams that end leave no listener behind on a connection that carries further requests', async ({ app, url }) => {
    const sockets: Socket[] = [];
    app.server.on('connection', (socket: Socket) => sockets.push(socket));
    const { job_id } = (await (await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo"}' })).json()) as { job_id: string };
    expect((await fetch(`${url}/jobs/${job_id}`, { method: 'DELETE' })).status).toBe(200);
    // A cancelled job's stream gives its final state and ends; the client keeps its connection.
    for (let i = 0; i < 12; i++) expect((await readEvents(`${url}/jobs/${job_id}/events`)).map((each) => each.data['status'])).toEqual(['cancelled']);
    expect(sockets.length).toBeLessThan(12);
    expect(Math.max(...sockets.map((socket) => socket.listenerCount('end')))).toBeLessThan(3);
  });

  test('the last event has the ID end; an EventSource reconnecting with it gets 204 (it stops; 404 for a job that does not exist), with another ID the state again', async ({ url, worker }) => {
    void worker;
    const { job_id } = (await (await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"done"}' })).json()) as { job_id: string };
    await waitFor(async () => ((await (await fetch(`${url}/jobs/${job_id}`)).json()) as { status: string }).status === 'completed', 'the job');
    const first = await (await fetch(`${url}/jobs/${job_id}/events`)).text();
    expect(first).toMatch(/id: end\nevent: state\ndata: .*"status":"completed"/);
    const ended = await fetch(`${url}/jobs/${job_id}/events`, { headers: { 'last-event-id': 'end' } });
    expect(ended.status).toBe(204);
    expect(await ended.text()).toBe('');
    // HEAD alike, and neither tells a length or a type a 204 does not have (HEAD's said 4, JSON).
    const head = await fetch(`${url}/jobs/${job_id}/events`, { method: 'HEAD', headers: { 'last-event-id': 'end' } });
    for (const answer of [ended, head]) {
      expect(answer.status).toBe(204);
      expect([answer.headers.get('content-length'), answer.headers.get('content-type')]).toEqual([null, null]);
    }
    // The same reconnect for a job that does not exist (never did, or its record expired) is a 404.
    const unknown = await fetch(`${url}/jobs/inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ/events`, { headers: { 'last-event-id': 'end' } });
    expect(unknown.status).toBe(404);
    // It says what GET /jobs/:id says of it (it gave no hint that the record may have expired).
    expect(await unknown.json()).toMatchObject({ type: '/problems/job-not-found', status: 404, detail: 'No job has the ID "inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ". It never existed, or it finished more than JOB_RETENTION ago and expired.' });
    expect(((await (await fetch(`${url}/jobs/inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ/events`)).json()) as { detail: string }).detail).toMatch(/It never existed, or it finished more than JOB_RETENTION ago and expired\.$/);
    // A reconnect after a network loss (an earlier ID) is a stream again, ending with the state.
    const resumed = await fetch(`${url}/jobs/${job_id}/events`, { headers: { 'last-event-id': '2' } });
    expect(resumed.status).toBe(200);
    expect(await resumed.text()).toMatch(/id: end\nevent: state\n/);
  });

  test('a reconnect with Last-Event-ID end to a job that is not ended (a dead job retried since) is followed anew, from its state to its end: it was a 204, and EventSource stopped', async ({ app, url }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).json() as { job_id: string };
    let cancelled: Promise<unknown> | undefined;
    // Once the state is read, the job is cancelled; the stream is read on to its end.
    const cancelOnceStateIsRead = (seen: SseEvent[]) => {
      if (seen.length > 0) cancelled ??= app.inject({ method: 'DELETE', url: `/jobs/${job_id}` });
      return false;
    };
    const events = await readEvents(`${url}/jobs/${job_id}/events`, undefined, cancelOnceStateIsRead, { headers: { 'last-event-id': 'end' } });
    await cancelled;
    expect(events).toEqual([
      { id: '1', event: 'state', data: expect.objectContaining({ id: job_id, status: 'queued' }) },
      { id: 'end', event: 'cancelled', data: expect.objectContaining({ job_id }) },
    ]);
  });

  test('200 clients watching jobs are served by one Redis subscriber connection, each gets its job\'s events, and disconnected clients are cleaned up', async ({ app, url, redisUrl, prefix }) => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt: `p${i}`, params: { sleep_ms: 300 } }) });
      ids.push(((await response.json()) as { job_id: string }).job_id);
    }
    let open = 0;
    const watchers = Array.from({ length: 200 }, (_, i) => readEvents(`${url}/jobs/${ids[i % 20]}/events`, () => (open += 1)));
    await waitFor(() => open === 200, '200 streams to open');
    // The worker starts once every stream is open, so each sees its job's events, however slowly they opened.
    const worker = await startWorker({ redisUrl, prefix });
    onTestFinished(async () => void (await worker.stop()));
    // Other test files run their own API processes on this Redis; only this API subscribes to this prefix's channels.
    const admin = createRedis(redisUrl, { role: 'command', name: 'conveyor:test' });
    try {
      expect(((await admin.pubsub('NUMSUB', `${prefix}:{inference}:events`)) as [string, number])[1]).toBe(1);
      // And marks the channel watched, which the scripts check before they publish (a subscriber on
      // another Redis Cluster node is invisible to them); the mark lapses unless renewed.
      const markTtl = await admin.pttl(`${prefix}:{inference}:events:watched`);
      expect(markTtl).toBeGreaterThan(0);
      expect(markTtl).toBeLessThanOrEqual(30_000);
    } finally {
      admin.disconnect();
    }
    expect(app.events.channels).toEqual([`${prefix}:{inference}:events`]);
    const results = await Promise.all(watchers);
    for (const [i, events] of results.entries()) {
      expect(events.at(-1)).toMatchObject({ event: 'completed', data: { job_id: ids[i % 20] } });
      expect(events.every((event) => event.event === 'state' || event.data['job_id'] === ids[i % 20])).toBe(true);
    }
    await waitFor(() => app.events.listeners === 0 && app.streams.size === 0, 'listeners to be cleaned up');
    // With no one listening, the API stops receiving the queue's events at all.
    expect(app.events.channels).toEqual([]);
    const quiet = createRedis(redisUrl, { role: 'command', name: 'conveyor:test' });
    try {
      await waitFor(async () => ((await quiet.pubsub('NUMSUB', `${prefix}:{inference}:events`)) as [string, number])[1] === 0, 'the channel to be unsubscribed');
    } finally {
      quiet.disconnect();
    }

    // A client that goes away mid-stream is removed too.
    const abort = new AbortController();
    const { job_id } = (await (await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","params":{"sleep_ms":3000}}' })).json()) as { job_id: string };
    const leaving = readEvents(`${url}/jobs/${job_id}/events`, undefined, (events) => events.length >= 1, { signal: abort.signal });
    await leaving;
    abort.abort();
    await waitFor(() => app.events.listeners === 0, 'the departed client to be cleaned up');
  });

  test('HEAD on a stream answers its headers, without a length, and ends, taking no stream place', async ({ app, url }) => {
    const { job_id } = (await (await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo"}' })).json()) as { job_id: string };
    for (const path of [`/jobs/${job_id}/events`, '/events?queue=inference']) {
      const head = await fetch(`${url}${path}`, { method: 'HEAD', signal: AbortSignal.timeout(2_000) });
      expect(head.status, path).toBe(200);
      expect(head.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      // The GET's body has no length, so the HEAD tells none (it said Content-Length: 0).
      expect(head.headers.get('content-length'), path).toBeNull();
      expect(await head.text()).toBe('');
    }
    expect(app.streams.size).toBe(0);
    expect((await fetch(`${url}/jobs/inference:1699980000000-0/events`, { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(`${url}/events?queue=nope`, { method: 'HEAD' })).status).toBe(404);
  });

  test('GET /events?queue= streams every event of the queue, with heartbeats', async ({ url, worker }) => {
    void worker;
    const seen = readEvents(`${url}/events?queue=inference`, undefined, (events) => events.some((e) => e.event === 'completed'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo"}' });
    const events = await seen;
    expect(events.map((e) => e.event)).toEqual(['subscribed', 'queued', 'active', 'completed']);
    expect(events[0]!.data).toEqual({ queues: ['inference'], queue: 'inference' });
    expect((await fetch(`${url}/events?queue=nope`)).status).toBe(404);
  });

  test('GET /events?queue=a,b streams the events of several queues in one stream, each with its queue; one unknown name is a 404', async ({ url, worker }) => {
    void worker;
    const seen = readEvents(`${url}/events?queue=inference,documents`, undefined, (events) => events.filter((e) => e.event === 'completed' || e.event === 'stage-completed').length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo"}' });
    const form = new FormData();
    form.append('file', new Blob(['A note for the analyzer.']), 'note.txt');
    await fetch(`${url}/documents`, { method: 'POST', body: form });
    const events = await seen;
    expect(events[0]).toMatchObject({ event: 'subscribed' });
    expect(events[0]!.data).toEqual({ queues: ['inference', 'documents'] });
    expect(events.find((e) => e.event === 'completed')?.data).toMatchObject({ queue: 'inference' });
    expect(events.find((e) => e.event === 'stage-completed')?.data).toMatchObject({ queue: 'documents', stage: 'extract' });
    const unknown = await fetch(`${url}/events?queue=inference,nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ type: '/problems/queue-not-found', detail: expect.stringContaining('"nope"') });
    // A trailing comma is an empty name, said as such (it read: there is no queue "").
    const trailing = await fetch(`${url}/events?queue=inference,`);
    expect(trailing.status).toBe(400);
    expect(await trailing.json()).toMatchObject({ type: '/problems/invalid-request', errors: [{ path: 'querystring.queue', message: 'has an empty name in its list ("inference,"): name the queues with commas between them, e.g. inference,documents' }] });
  });

  test("a job whose state is larger than MAX_UNSENT_BYTES is streamed whole, and its stream goes on to the job's end", async ({ redisUrl, prefix }) => {
    const app = await buildTestApp(redisUrl, prefix, { MAX_BODY_BYTES: '4MiB' });
    onTestFinished(() => app.close());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    // The longest prompt, and metadata: a state of 1.5 MB.
    const prompt = 'x'.repeat(1_000_000);
    const metadata = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key-${i}`, 'm'.repeat(5_000)]));
    const created = await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt, metadata, delay_ms: 60_000 }) });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    const events = await readEvents(`${url}/jobs/${job_id}/events`, undefined, (seen) => {
      if (seen.length === 1) void fetch(`${url}/jobs/${job_id}`, { method: 'DELETE' });
      return false;
    });
    expect(events.map((each) => each.event)).toEqual(['state', 'cancelled']);
    expect(events[0]!.data['status']).toBe('delayed');
    expect((events[0]!.data['input'] as { prompt: string }).prompt).toHaveLength(1_000_000);
    expect(app.events.listeners).toBe(0);
  });

  test("an EventSource connecting again to a queue stream (Last-Event-ID) is told with a resync per queue that events meanwhile were not kept", async ({ url }) => {
    const again = await readEvents(`${url}/events?queue=inference,documents`, undefined, (seen) => seen.length >= 3, { headers: { 'last-event-id': '5' } });
    expect(again.map((each) => [each.event, each.data['queue']])).toEqual([
      ['subscribed', undefined],
      ['resync', 'inference'],
      ['resync', 'documents'],
    ]);
    // A first connection: no resync, the queue's events come straight after `subscribed`.
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const first = readEvents(`${url}/events?queue=inference`, opened, (seen) => seen.length >= 2);
    await open;
    await waitFor(async () => (await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","delay_ms":60000}' })).status === 202, 'a job queued');
    expect((await first).map((each) => each.event)).toEqual(['subscribed', 'delayed']);
  });

  test('a client that stops reading is cut once its stream holds more than MAX_UNSENT_BYTES, instead of growing the API without end', async ({ app, url }) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /events?queue=inference HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
    socket.pause(); // reads nothing more, like a stalled dashboard
    expect(app.streams.size).toBe(1);

    // Each job publishes a `queued` event of ~150 bytes; the kernel's socket buffers take some MiB
    // before the API's own buffer starts to grow.
    const batch = JSON.stringify({ jobs: Array.from({ length: 1_000 }, () => ({ model: 'echo' })) });
    let jobs = 0;
    const started = Date.now();
    while (app.streams.size > 0 && jobs < 200_000) {
      const response = await fetch(`${url}/jobs/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batch });
      expect(response.status).toBe(202);
      // Read the answer (1,000 IDs) so the connection is free for the next request.
      await response.arrayBuffer();
      jobs += 1_000;
    }
    expect(app.streams.size).toBe(0);
    expect(app.events.listeners).toBe(0);
    console.log(`stalled client cut after ${jobs} jobs, ${Date.now() - started} ms`);
    expect(jobs).toBeLessThan(200_000);
    socket.destroy();
  });

  test('streams share what they may hold unsent: 1 MiB each up to 64 of them, then 64 MiB among them all, and never less than 64 KiB each', () => {
    // 500 dashboards a little behind a burst of 3,000 jobs held up to 1 MiB each: the API grew
    // past 2 GB. Each stream checks its share of the streams open when it writes.
    expect(unsentLimit(1)).toBe(1024 * 1024);
    expect(unsentLimit(64)).toBe(1024 * 1024);
    expect(unsentLimit(500)).toBe(Math.floor((64 * 1024 * 1024) / 500));
    expect(unsentLimit(2_000)).toBe(64 * 1024);
    expect(unsentLimit(10_000)).toBe(64 * 1024);
  });
});

/**
 * An API on a Redis of its own, as these tests close every pub/sub connection on it: the app, its
 * URL, a connection to that Redis, and the key prefix.
 */
const ownRedisTest = redisTest.extend<{ own: { app: App; url: string; admin: RedisClient; prefix: string } }>({
  own: async ({}, use) => {
    const server = await RedisServer.start();
    const prefix = 'resync';
    const app = await buildTestApp(server.url, prefix, { SSE_HEARTBEAT: '200ms' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const admin = createRedis(server.url, { role: 'command', name: 'conveyor:test' });
    try {
      await use({ app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, admin, prefix });
    } finally {
      admin.disconnect();
      await app.close();
      await server.stop();
    }
  },
});

describe('when the API loses its Redis subscription for a moment', () => {
  ownRedisTest('a job stream sends the state again once it is back (the event published meanwhile is gone) and ends if the job ended; a queue stream gets a resync event', async ({ own: { app, url, admin } }) => {
    const created = await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","delay_ms":60000}' });
    const { job_id } = (await created.json()) as { job_id: string };
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const jobStream = readEvents(`${url}/jobs/${job_id}/events`, opened);
    const queueStream = readEvents(`${url}/events?queue=inference`, undefined, (events) => events.some((event) => event.event === 'resync'));
    await open;
    await waitFor(() => app.events.listeners === 2, 'both streams to listen');

    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    // Cancelled while no subscriber is connected: its `cancelled` event reaches no one.
    expect((await fetch(`${url}/jobs/${job_id}`, { method: 'DELETE' })).status).toBe(200);

    const events = await jobStream;
    expect(events[0]).toMatchObject({ event: 'state', data: { status: 'delayed' } });
    expect(events.at(-1)).toMatchObject({ event: 'state', data: { id: job_id, status: 'cancelled' } });
    const [, resync] = await queueStream;
    expect(resync).toEqual({ id: '2', event: 'resync', data: { event: 'resync', at: expect.any(Number), queue: 'inference' } });
  });

  ownRedisTest('the listeners are told once the watch marks are set again, though Redis refused them at first (the command connection not back yet, or writes refused)', async ({ own: { app, url, admin, prefix } }) => {
    const queueStream = readEvents(`${url}/events?queue=inference`, undefined, (events) => events.some((event) => event.event === 'resync'));
    await waitFor(() => app.events.listeners === 1, 'the stream to listen');
    const mark = new QueueKeys(prefix, 'inference').eventsWatched;
    await admin.del(mark);
    // Every write refused (OOM): the subscription comes back, its watch mark cannot be set.
    await admin.config('SET', 'maxmemory', '1');
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await admin.exists(mark)).toBe(0);
    await admin.config('SET', 'maxmemory', '0');
    const [, resync] = await queueStream;
    expect(resync).toMatchObject({ event: 'resync', data: { queue: 'inference' } });
    expect(await admin.pttl(mark)).toBeGreaterThan(0);
  });
});
