import { QueueKeys, releaseJobs, takeJobs } from '@conveyor/shared';
import { keysUnder, redisTest, takeRequest, TEST_POLICY } from '@conveyor/testing';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect } from 'vitest';
import { buildTestApp, testWithApp } from './test-app.js';

const test = testWithApp();

describe('POST /jobs', () => {
  test('answers 202 at once with the job ID, its status and a Location header', async ({ app }) => {
    const response = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi', priority: 'high' } });
    expect(response.statusCode).toBe(202);
    const body = response.json();
    expect(body).toEqual({ job_id: expect.stringMatching(/^inference:[0-9A-Z]{26}$/), status: 'queued' });
    expect(response.headers['location']).toBe(`/jobs/${body.job_id}`);
  });

  test('a queued job can be read before any worker has taken it', async ({ app }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi', priority: 'low', metadata: { user_id: '12345' } } })).json();
    const job = (await app.inject({ url: `/jobs/${job_id}` })).json();
    expect(job).toMatchObject({
      id: job_id,
      queue: 'inference',
      status: 'queued',
      stage: 'infer',
      priority: 'low',
      attempts: 0,
      max_attempts: 3,
      worker: null,
      result: null,
      error: null,
      input: { model: 'echo', prompt: 'hi', metadata: { user_id: '12345' } },
      started_at: null,
      finished_at: null,
    });
    expect(Date.parse(job.created_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  test("the seed's own example payload (user_id, model, prompt, priority) is accepted and kept", async ({ app }) => {
    const seed = { user_id: '12345', model: 'echo', prompt: 'Summarize this document...', priority: 'high' };
    const response = await app.inject({ method: 'POST', url: '/jobs', payload: seed });
    expect(response.statusCode).toBe(202);
    const job = (await app.inject({ url: `/jobs/${response.json().job_id}` })).json();
    expect(job).toMatchObject({ priority: 'high', input: { user_id: '12345', model: 'echo', prompt: 'Summarize this document...' } });
  });

  test('the same Idempotency-Key returns the same job with 200; with another body it is a 422', async ({ app, redis, prefix }) => {
    const headers = { 'idempotency-key': 'req-42' };
    const first = await app.inject({ method: 'POST', url: '/jobs', headers, payload: { model: 'echo', prompt: 'once' } });
    expect(first.statusCode).toBe(202);
    const again = await app.inject({ method: 'POST', url: '/jobs', headers, payload: { model: 'echo', prompt: 'once' } });
    expect(again.statusCode).toBe(200);
    expect(again.json().job_id).toBe(first.json().job_id);
    const before = await keysUnder(redis, prefix);
    const other = await app.inject({ method: 'POST', url: '/jobs', headers, payload: { model: 'echo', prompt: 'twice' } });
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ type: '/problems/idempotency-key-reused', status: 422, detail: expect.stringContaining('within the last 24 hours (IDEMPOTENCY_TTL)') });
    expect(await keysUnder(redis, prefix)).toEqual(before);
    // A key lives IDEMPOTENCY_TTL, 24 hours by default.
    expect(await redis.ttl(`${prefix}:{inference}:idem:req-42`)).toBeGreaterThan(86_300);
  });

  test('the same request with its params and metadata in another key order is the same request (200), while another value is a 422', async ({ app }) => {
    const headers = { 'idempotency-key': 'rebuilt' };
    const payload = { model: 'echo', prompt: 'hi', params: { sleep_ms: 10, progress: true, fail: 1 }, metadata: { a: '1', b: '2' } };
    const first = await app.inject({ method: 'POST', url: '/jobs', headers, payload });
    expect(first.statusCode).toBe(202);
    const reordered = { metadata: { b: '2', a: '1' }, params: { fail: 1, progress: true, sleep_ms: 10 }, prompt: 'hi', model: 'echo' };
    const again = await app.inject({ method: 'POST', url: '/jobs', headers, payload: reordered });
    expect(again.statusCode).toBe(200);
    expect(again.json().job_id).toBe(first.json().job_id);
    const changed = await app.inject({ method: 'POST', url: '/jobs', headers, payload: { ...reordered, params: { ...reordered.params, fail: 2 } } });
    expect(changed.statusCode).toBe(422);
  });

  redisTest('an Idempotency-Key lives IDEMPOTENCY_TTL, after which the same request makes a new job', async ({ redisUrl, redis, prefix }) => {
    const app = await buildTestApp(redisUrl, prefix, { IDEMPOTENCY_TTL: '1s' });
    try {
      const send = () => app.inject({ method: 'POST', url: '/jobs', headers: { 'idempotency-key': 'short' }, payload: { model: 'echo', prompt: 'once' } });
      const first = await send();
      expect(first.statusCode).toBe(202);
      expect(await redis.pttl(`${prefix}:{inference}:idem:short`)).toBeLessThanOrEqual(1_000);
      expect((await send()).json().job_id).toBe(first.json().job_id);
      // The refusal of another body names the TTL set (it said 24 hours whatever it was).
      const other = await app.inject({ method: 'POST', url: '/jobs', headers: { 'idempotency-key': 'short' }, payload: { model: 'echo', prompt: 'twice' } });
      expect(other.json()).toMatchObject({ status: 422, detail: expect.stringContaining('was already used within the last 1 second (IDEMPOTENCY_TTL) for a different request') });
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const later = await send();
      expect(later.statusCode).toBe(202);
      expect(later.json().job_id).not.toBe(first.json().job_id);
    } finally {
      await app.close();
    }
  });

  test('progress is the running attempt\'s: a job that is not active shows none (a finished job showed its last report for good)', async ({ app, redis, prefix }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).json() as { job_id: string };
    const record = new QueueKeys(prefix, 'inference').job(job_id);
    await redis.hset(record, 'status', 'active', 'progress', '50', 'progress_message', 'halfway');
    expect((await app.inject({ url: `/jobs/${job_id}` })).json()).toMatchObject({ status: 'active', progress: { percent: 50, message: 'halfway' } });
    await redis.hset(record, 'status', 'completed');
    expect((await app.inject({ url: `/jobs/${job_id}` })).json()).toMatchObject({ status: 'completed', progress: null });
  });

  test('worker names the one that holds the job, or ran its finished attempt; a job released by a stopping worker, or waiting to retry, names none', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).json() as { job_id: string };
    const [held] = (await takeJobs(redis, keys, takeRequest({ consumer: 'w1' }))).jobs;
    const view = async () => (await app.inject({ url: `/jobs/${job_id}` })).json() as { status: string; worker: string | null; stages: { worker: string | null }[] };
    expect(await view()).toMatchObject({ status: 'active', worker: 'w1', stages: [{ worker: 'w1' }] });
    expect(await releaseJobs(redis, keys, 'w1', [held!], 60_000, TEST_POLICY)).toBe(1);
    expect(await view()).toMatchObject({ status: 'queued', worker: null, stages: [{ worker: null }] });
    await redis.hset(keys.job(job_id), 'status', 'retrying');
    expect(await view()).toMatchObject({ status: 'retrying', worker: null });
    await redis.hset(keys.job(job_id), 'status', 'completed');
    expect(await view()).toMatchObject({ status: 'completed', worker: 'w1' });
  });

  test('run_at is read as RFC 3339 and ISO 8601 write it: T and Z in lower case, no seconds (they were refused)', async ({ app }) => {
    const soon = new Date(Date.now() + 3_600_000);
    const minute = soon.toISOString().slice(0, 16);
    for (const runAt of [`${minute}Z`, `${minute.replace('T', 't')}:00z`, `${minute}:00.5+00:00`, `${minute.replace('T', ' ')}:00Z`]) {
      const response = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', run_at: runAt } });
      expect(response.statusCode, `${runAt}: ${response.body}`).toBe(202);
      const job = (await app.inject({ url: `/jobs/${response.json().job_id}` })).json();
      expect(job, runAt).toMatchObject({ status: 'delayed' });
      expect(Math.abs(Date.parse(job.retry_at) - Date.parse(`${minute}:00Z`)), runAt).toBeLessThanOrEqual(500);
    }
  });

  test('a job with run_at in the future is delayed until then', async ({ app }) => {
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    const response = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', run_at: runAt } });
    expect(response.statusCode).toBe(202);
    expect(response.json().status).toBe('delayed');
    const job = (await app.inject({ url: response.headers['location'] as string })).json();
    expect(job).toMatchObject({ status: 'delayed', retry_at: runAt });
  });
});

describe('bad input gets a 4xx problem a person can act on, and writes nothing', () => {
  // run_at's examples are tomorrow's: 2030-01-01, the example it gave, was refused as too far ahead.
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const cases: { name: string; status: number; type: string; detail: RegExp; request: { headers?: Record<string, string>; body?: string | Buffer } }[] = [
    { name: 'malformed JSON', status: 400, type: 'malformed-json', detail: /^Unexpected end of JSON input\. The body ends before its JSON does: if it was cut short, Content-Length counts the body's bytes \(in UTF-8\), not its characters\. Send a JSON object/, request: { body: '{"model":' } },
    { name: 'JSON missing a comma', status: 400, type: 'malformed-json', detail: /^Expected ',' or '}' after property value in JSON at position 16\./, request: { body: '{"model":"echo" "prompt":"hi"}' } },
    { name: 'an empty JSON body', status: 400, type: 'malformed-json', detail: /^The body is empty \(/, request: { body: '' } },
    { name: 'a __proto__ key', status: 400, type: 'invalid-request', detail: /"__proto__" key.*is refused/, request: { body: '{"model":"echo","params":{"__proto__":{"admin":true}}}' } },
    { name: 'a constructor.prototype key', status: 400, type: 'invalid-request', detail: /"constructor" key holding "prototype"/, request: { body: '{"model":"echo","constructor":{"prototype":{}}}' } },
    { name: 'a JSON array', status: 400, type: 'invalid-request', detail: /body: must be an object, not an array/, request: { body: '[1,2]' } },
    { name: 'a missing model', status: 400, type: 'invalid-request', detail: /body\.model/, request: { body: '{"prompt":"hi"}' } },
    { name: 'a prompt of the wrong type', status: 400, type: 'invalid-request', detail: /body\.prompt: must be a string, not a number/, request: { body: '{"model":"echo","prompt":42}' } },
    { name: 'an unknown priority', status: 400, type: 'invalid-request', detail: /body\.priority: must be one of "high", "normal", "low"/, request: { body: '{"model":"echo","priority":"urgent"}' } },
    { name: 'an unknown field', status: 400, type: 'invalid-request', detail: /has a field it does not take: "colour"/, request: { body: '{"model":"echo","colour":"red"}' } },
    { name: 'an unknown model', status: 400, type: 'unknown-model', detail: /Model "gpt-9" is not known\. Known models: echo, sentiment, summarize, embed, language/, request: { body: '{"model":"gpt-9"}' } },
    { name: 'an unknown queue', status: 400, type: 'invalid-request', detail: /^There is no queue "nope"; these take JSON jobs: inference\.$/, request: { body: '{"model":"echo","queue":"nope"}' } },
    // No QUEUE_PARTITIONS here: it was told to send to "inference" and let the API spread jobs over partitions.
    { name: 'a partition\'s name as the queue, on an API without partitions', status: 400, type: 'invalid-request', detail: /^There is no queue "inference\.1"; these take JSON jobs: inference\.$/, request: { body: '{"model":"echo","queue":"inference.1"}' } },
    { name: 'a queue name of 1 MiB', status: 400, type: 'invalid-request', detail: /^body\.queue: must have at most 100 characters$/, request: { body: JSON.stringify({ model: 'echo', queue: 'q'.repeat(1_000_000) }) } },
    { name: 'a documents queue given JSON', status: 400, type: 'invalid-request', detail: /^Queue "documents" takes documents \(POST \/documents\), not JSON jobs; these take JSON jobs: inference\.$/, request: { body: '{"model":"echo","queue":"documents"}' } },
    { name: 'run_at and delay_ms together', status: 400, type: 'invalid-request', detail: /run_at or delay_ms, not both/, request: { body: `{"model":"echo","delay_ms":5,"run_at":"${new Date().toISOString()}"}` } },
    { name: 'a run_at without its time zone', status: 400, type: 'invalid-request', detail: /body\.run_at: must be an RFC 3339 time with its time zone, e\.g\. \d{4}-\d{2}-\d{2}T09:00:00Z/, request: { body: '{"model":"echo","run_at":"2030-01-01T00:00:00"}' } },
    { name: 'a metadata value that is not a string, number or boolean', status: 400, type: 'invalid-request', detail: /^body\.metadata\.a: must be a string, a number, true or false$/, request: { body: '{"model":"echo","metadata":{"a":null}}' } },
    { name: 'a number in params too large to keep', status: 400, type: 'invalid-request', detail: /^body\.params\.options\.1: is a number too large to keep: it reads as Infinity/, request: { body: '{"model":"echo","params":{"options":[1,1e309]}}' } },
    { name: 'a run_at that is no time: that error alone', status: 400, type: 'invalid-request', detail: new RegExp(`^body\\.run_at: must be an RFC 3339 time with its time zone, e\\.g\\. ${tomorrow}T09:00:00Z or ${tomorrow}T10:00:00\\+01:00$`), request: { body: '{"model":"echo","run_at":"not a date"}' } },
    { name: 'a run_at more than 30 days ahead', status: 400, type: 'invalid-request', detail: /^body\.run_at: is more than 30 days from now; a job waits at most 30 days for its start \(run_at or delay_ms\)$/, request: { body: '{"model":"echo","run_at":"9999-12-31T23:59:59Z"}' } },
    // These were told to write an ISO 8601 time with its time zone, which they are.
    // JSON text is for jobs XADDed by other producers: here it skipped the field count and the depth check.
    { name: 'metadata as JSON text', status: 400, type: 'invalid-request', detail: /^body\.metadata: must be an object, not a string/, request: { body: JSON.stringify({ model: 'echo', metadata: JSON.stringify({ user_id: '1' }) }) } },
    { name: 'a run_at on a day that does not exist', status: 400, type: 'invalid-request', detail: /^body\.run_at: has no day 30 in 2030-02, which has 28 days$/, request: { body: '{"model":"echo","run_at":"2030-02-30T01:50:00Z"}' } },
    // Year 0 is a leap year (Date.UTC read it as 1900, which is not).
    { name: 'a run_at on 29 February of a year that has none', status: 400, type: 'invalid-request', detail: /^body\.run_at: has no day 29 in 2031-02, which has 28 days$/, request: { body: '{"model":"echo","run_at":"2031-02-29T00:00:00Z"}' } },
    { name: 'a run_at at an hour that does not exist', status: 400, type: 'invalid-request', detail: /^body\.run_at: has no time 24:00:00 \(hours are 00 to 23/, request: { body: '{"model":"echo","run_at":"2030-01-01T24:00:00Z"}' } },
    { name: 'max_attempts out of range', status: 400, type: 'invalid-request', detail: /body\.max_attempts/, request: { body: '{"model":"echo","max_attempts":0}' } },
    { name: 'a bad idempotency key', status: 400, type: 'invalid-request', detail: /idempotency-key/, request: { body: '{"model":"echo"}', headers: { 'idempotency-key': 'has spaces' } } },
    { name: 'a JSON body in another charset', status: 415, type: 'unsupported-media-type', detail: /declared as charset "latin1"; JSON is taken in UTF-8 only/, request: { body: '{"model":"echo","prompt":"Caf\xe9"}', headers: { 'content-type': 'application/json; charset=latin1' } } },
    { name: 'a JSON body that is not UTF-8 (Latin-1 bytes)', status: 400, type: 'malformed-json', detail: /not UTF-8: byte 0xe9 after "\{"model":"echo","prompt":"Caf"/, request: { body: Buffer.from('{"model":"echo","prompt":"Caf\xe9"}', 'latin1') } },
    {
      name: 'a JSON body whose bad byte follows a U+FFFD it really holds',
      status: 400,
      type: 'malformed-json',
      detail: /byte 0xff after "\{"model":"echo","prompt":"\ufffd ok " \(byte 33\)/,
      request: { body: Buffer.concat([Buffer.from('{"model":"echo","prompt":"\ufffd ok ', 'utf8'), Buffer.from([0xff]), Buffer.from('"}')]) },
    },
    { name: 'a text/plain body', status: 415, type: 'unsupported-media-type', detail: /^Content-Type "text\/plain" is not accepted on POST \/jobs, which takes application\/json\./, request: { body: 'hi', headers: { 'content-type': 'text/plain' } } },
    { name: 'an XML body', status: 415, type: 'unsupported-media-type', detail: /application\/xml/, request: { body: '<job/>', headers: { 'content-type': 'application/xml' } } },
    {
      name: 'a form upload (meant for POST /documents)',
      status: 415,
      type: 'unsupported-media-type',
      detail: /multipart\/form-data.*is not accepted on POST \/jobs, which takes application\/json\./,
      request: { body: '--b\r\nContent-Disposition: form-data; name="model"\r\n\r\necho\r\n--b--\r\n', headers: { 'content-type': 'multipart/form-data; boundary=b' } },
    },
    { name: 'a compressed body', status: 415, type: 'unsupported-media-type', detail: /Content-Encoding "gzip" is not accepted: send the body uncompressed/, request: { body: '{"model":"echo"}', headers: { 'content-encoding': 'gzip' } } },
    { name: 'a body over MAX_BODY_BYTES', status: 413, type: 'payload-too-large', detail: /^The request body is larger than the limit of 1048576 bytes \(MAX_BODY_BYTES\)\.$/, request: { body: JSON.stringify({ model: 'echo', prompt: 'x'.repeat(1_100_000) }) } },
  ];

  for (const { name, status, type, detail, request } of cases) {
    test(`${name}: ${status} ${type}`, async ({ app, redis, prefix }) => {
      const before = await keysUnder(redis, prefix);
      const response = await app.inject({
        method: 'POST',
        url: '/jobs',
        headers: { 'content-type': 'application/json', ...request.headers },
        payload: request.body,
      });
      expect(response.statusCode).toBe(status);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = response.json();
      expect(problem).toMatchObject({ type: `/problems/${type}`, status, title: expect.any(String), instance: expect.stringMatching(/^urn:request:/) });
      expect(problem.detail).toMatch(detail);
      expect(await keysUnder(redis, prefix)).toEqual(before);
    });
  }

  test('Content-Encoding identity is a plain body; a refused coding names the one taken in Accept-Encoding', async ({ app }) => {
    const plain = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-encoding': 'identity' }, payload: { model: 'echo' } });
    expect(plain.statusCode).toBe(202);
    const compressed = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-encoding': 'br' }, payload: { model: 'echo' } });
    expect(compressed.statusCode).toBe(415);
    expect(compressed.headers['accept-encoding']).toBe('identity');
  });

  test("a problem's instance carries the client's X-Request-Id when it is usable, a fresh UUID when not", async ({ app }) => {
    const instanceFor = async (id: string) => (await app.inject({ url: '/jobs/inference:none', headers: { 'x-request-id': id } })).json().instance;
    expect(await instanceFor('trace-7f3a.2:b_c')).toBe('urn:request:trace-7f3a.2:b_c');
    const uuid = /^urn:request:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    expect(await instanceFor('x'.repeat(129))).toMatch(uuid);
    expect(await instanceFor('<script>alert(1)</script>')).toMatch(uuid);
    expect(await instanceFor('has space')).toMatch(uuid);
  });

  test('a UTF-8 body is taken with or without a charset parameter or a byte order mark', async ({ app }) => {
    const sent: [contentType: string, body: string][] = [
      ['application/json; charset=UTF-8', '{"model":"echo","prompt":"Café"}'],
      ['application/json;charset="utf-8"', '{"model":"echo","prompt":"Café"}'],
      ['application/json', '\ufeff{"model":"echo","prompt":"Café"}'],
    ];
    for (const [contentType, body] of sent) {
      const response = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': contentType }, payload: Buffer.from(body, 'utf8') });
      expect(response.statusCode, contentType).toBe(202);
      const job = (await app.inject({ url: response.headers['location'] as string })).json();
      expect(job.input.prompt).toBe('Café');
    }
  });

  test('malformed JSON sent to the batch route shows a batch body', async ({ app }) => {
    const response = await app.inject({ method: 'POST', url: '/jobs/batch', headers: { 'content-type': 'application/json' }, payload: '{"jobs":[{"model":"echo"},]}' });
    expect(response.statusCode).toBe(400);
    expect(response.json().detail).toMatch(/is not valid JSON\. Send a JSON object, e\.g\. \{"jobs":\[\{"model":"echo","prompt":"hi"\}\]\}\.$/);
  });
});

describe('GET /jobs/:id', () => {
  test('an unknown ID is a 404 problem, whatever its shape', async ({ app }) => {
    for (const id of ['inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ', 'inference:1699980000000-0', 'nosuchqueue:1', 'no-colon', 'inference:']) {
      const response = await app.inject({ url: `/jobs/${encodeURIComponent(id)}` });
      expect(response.statusCode, id).toBe(404);
      expect(response.json()).toMatchObject({ type: '/problems/job-not-found', status: 404 });
    }
  });

  test("a bare stream entry ID, which XADD answers a producer, is a 404 that gives the job's name to use", async ({ app }) => {
    const response = await app.inject({ url: '/jobs/1796634788225-0' });
    expect(response.statusCode).toBe(404);
    expect(response.json().detail).toBe(
      'No job has the ID "1796634788225-0". It looks like a stream entry ID: a job added to a stream with XADD is named after its stream and entry, such as "inference:1796634788225-0" for the inference queue\'s normal lane, or "documents:high:1796634788225-0" for another lane (README, Producing jobs from any Redis client).',
    );
  });

  test('an ID named after an entry ID Redis would refuse (a part over 2^64 - 1) is a 404 on every route, not a 500', async ({ app }) => {
    const ids = ['inference:99999999999999999999-0', 'inference:1-18446744073709551616', 'inference:high:18446744073709551616-0', 'documents:summarize:low:99999999999999999999-1'];
    for (const id of ids) {
      const stage = id.startsWith('documents:') ? 'summarize' : 'infer';
      for (const [method, url] of [['GET', `/jobs/${id}`], ['DELETE', `/jobs/${id}`], ['POST', `/jobs/${id}/retry`], ['GET', `/jobs/${id}/stages/${stage}/output`], ['GET', `/jobs/${id}/events`]] as const) {
        const response = await app.inject({ method, url });
        expect(response.statusCode, `${method} ${url}`).toBe(404);
        expect(response.json()).toMatchObject({ type: '/problems/job-not-found' });
      }
    }
    // The largest entry ID Redis takes is still looked up: no such job.
    expect((await app.inject({ url: '/jobs/inference:18446744073709551615-18446744073709551615' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/jobs/inference:000000000000000000001-0' })).statusCode).toBe(404);
  });

  test("an XADDed job's params and metadata written as JSON text are shown as the objects its worker reads, other text as sent", async ({ app }) => {
    const stream = app.jobs.keysOf('inference').stream('infer', 'normal');
    const entry = await app.redis.xadd(stream, '*', 'model', 'echo', 'params', '{"sleep_ms":1}', 'metadata', ' {"request_id":"r-1"}', 'note', '{"kept":"as text"}');
    expect((await app.inject({ url: `/jobs/inference:${entry}` })).json().input).toEqual({ model: 'echo', params: { sleep_ms: 1 }, metadata: { request_id: 'r-1' }, note: '{"kept":"as text"}' });
    // Text that is no JSON object stays as it was sent (the worker refuses it, saying so).
    const odd = await app.redis.xadd(stream, '*', 'model', 'echo', 'params', '[1,2]', 'metadata', '{not json');
    expect((await app.inject({ url: `/jobs/inference:${odd}` })).json().input).toEqual({ model: 'echo', params: '[1,2]', metadata: '{not json' });
  });

  test('an unknown route is a 404 problem that points at the docs', async ({ app }) => {
    const response = await app.inject({ url: '/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ type: '/problems/not-found', detail: expect.stringContaining('GET /docs') });
  });

  test('a trailing or doubled slash finds the route it means', async ({ app }) => {
    const created = await app.inject({ method: 'POST', url: '/jobs/', payload: { model: 'echo', prompt: 'slash' } });
    expect(created.statusCode).toBe(202);
    const { job_id } = created.json();
    const read = await app.inject({ url: `//jobs/${job_id}/` });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ id: job_id, input: { prompt: 'slash' } });
  });

  test('a route with a method it does not take is a 405 problem whose Allow header lists the ones it does', async ({ app }) => {
    const cases: [string, string, string][] = [
      ['PATCH', '/jobs', 'POST'],
      ['GET', '/jobs', 'POST'],
      ['PUT', '/jobs/inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ?x=1', 'DELETE, GET, HEAD'],
      ['DELETE', '/queues/inference/dead', 'GET, HEAD'],
      // The router hands these to /jobs/:id, which must not say no job is called "batch".
      ['GET', '/jobs/batch', 'POST'],
      ['DELETE', '/jobs/batch', 'POST'],
      // And these find no route: /jobs/batch is a route of its own, so /jobs/:id's methods are not its.
      ['PUT', '/jobs/batch', 'POST'],
      ['PATCH', '/jobs/batch?x=1', 'POST'],
    ];
    for (const [method, url, allow] of cases) {
      const response = await app.inject({ method: method as 'GET', url });
      expect(response.statusCode, `${method} ${url}`).toBe(405);
      expect(response.headers['allow']).toBe(allow);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ type: '/problems/method-not-allowed', status: 405, detail: `${url.split('?')[0]} does not take ${method}; it takes ${allow}.` });
    }
    expect((await app.inject({ method: 'POST', url: '/nope' })).statusCode).toBe(404);
  });

  test('a path that cannot be decoded is a 400 problem, a segment over 100 characters a 414 problem', async ({ app }) => {
    for (const url of ['/jobs/%E0%A4%A', '/jobs/%', '/queues/%C0%AF/dead']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ type: '/problems/malformed-url', status: 400, detail: expect.stringContaining('each % must start a percent-encoded UTF-8 byte'), instance: expect.stringMatching(/^urn:request:/) });
    }
    const long = await app.inject({ method: 'DELETE', url: `/jobs/inference:${'1'.repeat(120)}` });
    expect(long.statusCode).toBe(414);
    expect(long.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(long.json()).toMatchObject({ type: '/problems/uri-too-long', status: 414, detail: expect.stringContaining('longer than 100 characters') });
  });

  test('a file /docs/static does not have, or a path that climbs out of it, is a 404 problem that says why, not a 405 or a bare 403', async ({ app }) => {
    // Over a socket: inject resolves "..", as a browser would; curl --path-as-is and scanners send it.
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const answerTo = (path: string, method = 'GET') =>
      new Promise<{ status?: number; type?: string; body: string }>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path, method }, (response) => {
          let body = '';
          response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: response.statusCode, type: response.headers['content-type'], body }));
        })
          .on('error', reject)
          .end();
      });
    for (const path of ['/docs/static/../../package.json', '/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/swagger-ui.css%00']) {
      const answer = await answerTo(path);
      expect(answer.status, path).toBe(404);
      expect(answer.type).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(answer.body)).toMatchObject({ type: '/problems/not-found', status: 404, detail: `There is no file ${path}: a path under /docs/static may not climb out of its folder ("..") or hold a NUL byte. GET /docs lists every route.` });
    }
    for (const path of ['/docs/static/nope.js', '/docs/static/a/b/c', '/docs/static/swagger-ui-bundle.js.map']) {
      const answer = await answerTo(path);
      expect(answer.status, path).toBe(404);
      expect(answer.type).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(answer.body)).toMatchObject({ type: '/problems/not-found', status: 404, detail: `There is no file ${path}. GET /docs lists every route.` });
      expect((await answerTo(path, 'HEAD')).status, `HEAD ${path}`).toBe(404);
    }
    // The files it has are served.
    expect((await answerTo('/docs/static/swagger-ui.css')).status).toBe(200);
  });

  test('every problem type links to an explanation', async ({ app }) => {
    const explained = (await app.inject({ url: '/problems/queue-full' })).json();
    expect(explained).toMatchObject({ type: '/problems/queue-full', status: 503, help: expect.stringContaining('Retry-After') });
    expect((await app.inject({ url: '/problems/nonsense' })).statusCode).toBe(404);
  });
});

describe('GET /jobs/:id of a record with bad counts', () => {
  test('counts that are not whole numbers (another producer\'s entry, an old record) are shown as their defaults, not answered with a 500', async ({ app, redis, prefix }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'x' } })).json() as { job_id: string };
    await redis.hset(`${prefix}:{inference}:job:${job_id}`, { id: job_id, queue: 'inference', stage: 'infer', lane: 'normal', status: 'queued', payload: '{"model":"echo"}', created_at: '1', attempts: '1.5', max_attempts: 'abc', stalls: '-1' });
    const answer = await app.inject({ url: `/jobs/${job_id}` });
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({ status: 'queued', attempts: 0, max_attempts: 3, stalls: 0 });
  });
});

describe('POST /jobs/batch', () => {
  test('a batch over MAX_BATCH_BYTES is a 413 naming the setting and saying to send smaller batches; nothing is stored', async ({ redisUrl, prefix, redis }) => {
    const app = await buildTestApp(redisUrl, prefix, { MAX_BATCH_BYTES: '4000' });
    try {
      const before = await keysUnder(redis, prefix);
      const jobs = Array.from({ length: 200 }, (_, i) => ({ model: 'echo', prompt: `job ${i}` }));
      const response = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs } });
      expect(response.statusCode).toBe(413);
      expect(response.json()).toMatchObject({ type: '/problems/payload-too-large', detail: 'The request body is larger than the limit of 4000 bytes (MAX_BATCH_BYTES; send the jobs in smaller batches).' });
      expect(await keysUnder(redis, prefix)).toEqual(before);
    } finally {
      await app.close();
    }
  });

  test('stores up to 1,000 jobs for one queue in one step and answers with their IDs in order', async ({ app, redis, prefix }) => {
    const jobs = Array.from({ length: 1_000 }, (_, i) => ({ model: 'echo', prompt: `p${i}`, priority: i % 2 ? 'high' : 'low' }));
    const response = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs } });
    expect(response.statusCode).toBe(202);
    const body = response.json();
    expect(body.jobs).toHaveLength(1_000);
    expect(body.jobs[0]).toEqual({ job_id: expect.stringMatching(/^inference:/), status: 'queued', created: true });
    expect(new Set(body.jobs.map((job: { job_id: string }) => job.job_id)).size).toBe(1_000);
    expect(await redis.xlen(`${prefix}:{inference}:infer:high`)).toBe(500);
    expect(await redis.xlen(`${prefix}:{inference}:infer:low`)).toBe(500);
    const third = (await app.inject({ url: `/jobs/${body.jobs[2].job_id}` })).json();
    expect(third).toMatchObject({ input: { prompt: 'p2' }, priority: 'low' });
  });

  test('a batch whose every job is wrong in many ways is checked for 1,000 issues, not all of them, and the problem names the first job\'s: checking on made 100,000 issues, a second of the API', async ({ app, redis, prefix }) => {
    const before = await keysUnder(redis, prefix);
    const metadata = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, {}]));
    const jobs = Array.from({ length: 1_000 }, () => ({ model: 'echo', prompt: 'x', metadata }));
    const response = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs } });
    expect(response.statusCode).toBe(400);
    const problem = response.json();
    expect(problem.errors).toHaveLength(20);
    expect(problem.errors[0]).toEqual({ path: 'body.jobs.0.metadata.k0', message: expect.any(String) });
    expect(problem.errors.every((error: { path: string }) => error.path.startsWith('body.jobs.0.metadata.'))).toBe(true);
    // The other issues of jobs.0 to jobs.10 (1,100 in all), and that the jobs after jobs.10 were not checked.
    expect(problem.detail).toMatch(/; and 1081 more \(fix these and send it again\)$/);
    expect(await keysUnder(redis, prefix)).toEqual(before);
    // A few wrong jobs are each reported, as the whole schema reports them.
    const few = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: [{ model: 'echo' }, { model: 'echo', delay_ms: 1, run_at: new Date(Date.now() + 60_000).toISOString() }, { model: 5 }] } });
    expect(few.json().errors.map((error: { path: string }) => error.path)).toEqual(['body.jobs.1.delay_ms', 'body.jobs.2.model']);
  });

  test('an Idempotency-Key header is refused, not ignored, where sending again is no safer with it: a retried batch would be stored twice, a bulk retry done again', async ({ app, redis, prefix }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).json() as { job_id: string };
    const before = await keysUnder(redis, prefix);
    // The replay (an admin route) is refused likewise: history.test.ts.
    for (const [url, payload, why] of [
      ['/jobs/batch', { jobs: [{ model: 'echo' }] }, 'give each job its own `idempotency_key`'],
      [`/jobs/${job_id}/retry`, undefined, 'one that died again meanwhile runs again'],
      ['/queues/inference/dead/retry', undefined, 'those that died again meanwhile included'],
    ] as const) {
      const response = await app.inject({ method: 'POST', url, headers: { 'idempotency-key': 'key-1' }, ...(payload ? { payload } : {}) });
      expect(response.statusCode, url).toBe(400);
      expect(response.headers['content-type']).toMatch(/problem\+json/);
      expect(response.json(), url).toMatchObject({ detail: expect.stringMatching(/^POST \/[^ ]+ takes no Idempotency-Key header: /), errors: [{ path: 'headers.idempotency-key' }] });
      expect(response.json().detail, url).toContain(why);
    }
    expect(await keysUnder(redis, prefix)).toEqual(before);
  });

  test('one bad item, a reused key, or mixed queues refuse the whole batch and write nothing', async ({ app, redis, prefix }) => {
    const first = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: [{ model: 'echo', prompt: 'a', idempotency_key: 'k1' }] } });
    expect(first.statusCode).toBe(202);
    const before = await keysUnder(redis, prefix);
    const cases = [
      { jobs: [{ model: 'echo' }, { model: 'echo', priority: 'urgent' }] },
      { jobs: [{ model: 'echo' }, { model: 'gpt-9' }] },
      { jobs: [{ model: 'echo' }, { model: 'echo', prompt: 'other', idempotency_key: 'k1' }] },
      { jobs: [{ model: 'echo' }, { model: 'echo', queue: 'documents' }] },
      { jobs: [] },
      { jobs: Array.from({ length: 1_001 }, () => ({ model: 'echo' })) },
    ];
    const statuses = [];
    for (const payload of cases) {
      const response = await app.inject({ method: 'POST', url: '/jobs/batch', payload });
      statuses.push(response.statusCode);
      expect(response.headers['content-type']).toMatch(/problem\+json/);
    }
    expect(statuses).toEqual([400, 400, 422, 400, 400, 400]);
    expect(await keysUnder(redis, prefix)).toEqual(before);
    const unknown = await app.inject({ method: 'POST', url: '/jobs/batch', payload: cases[1] });
    expect(unknown.json().detail).toMatch(/^Model "gpt-9" \(body\.jobs\.1, counted from 0\) is not known/);
    const reused = await app.inject({ method: 'POST', url: '/jobs/batch', payload: cases[2] });
    expect(reused.json().detail).toMatch(/^Idempotency key "k1" \(body\.jobs\.1, counted from 0\) was already used within the last 24 hours \(IDEMPOTENCY_TTL\) for a different request/);
    const mixed = await app.inject({ method: 'POST', url: '/jobs/batch', payload: cases[3] });
    expect(mixed.json()).toMatchObject({
      detail: 'A batch goes to one queue; this one names "inference", "documents". Send one batch per queue.',
      errors: [{ path: 'body.jobs.1.queue', message: 'is "documents", where body.jobs.0.queue is "inference": a batch goes to one queue' }],
    });
    const again = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: [{ model: 'echo', prompt: 'a', idempotency_key: 'k1' }] } });
    expect(again.json().jobs[0]).toMatchObject({ job_id: first.json().jobs[0].job_id, created: false });
  });

  test('a key given twice in one batch with different requests is a 422 naming both jobs, not a key "already used"; nothing is written', async ({ app, redis, prefix }) => {
    const before = await keysUnder(redis, prefix);
    const jobs = [{ model: 'echo', prompt: 'x' }, { model: 'echo', prompt: 'a', idempotency_key: 'dupe' }, { model: 'echo', prompt: 'b', idempotency_key: 'dupe' }];
    const response = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs } });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ type: '/problems/idempotency-key-reused', detail: 'body.jobs.2 has the idempotency key "dupe" of body.jobs.1 (counted from 0), with a different request. Give each job of a batch its own key.' });
    expect(await keysUnder(redis, prefix)).toEqual(before);
  });

  test('a key given twice in one batch names one job, created for the first and not for the second, with one status for both', async ({ app, redis, prefix }) => {
    const job = { model: 'echo', prompt: 'twice', idempotency_key: 'twice-1' };
    const response = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: [job, { model: 'echo', prompt: 'other' }, job] } });
    expect(response.statusCode).toBe(202);
    const [first, other, second] = response.json().jobs;
    expect(first).toEqual({ job_id: expect.any(String), status: 'queued', created: true });
    expect(second).toEqual({ ...first, created: false });
    expect(other.job_id).not.toBe(first.job_id);
    expect(await redis.xlen(`${prefix}:{inference}:infer:normal`)).toBe(2);
  });
});
