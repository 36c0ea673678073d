import { failAttempt, QueueKeys, takeJobs } from '@conveyor/shared';
import { freePort, redisTest, takeRequest } from '@conveyor/testing';
import { describe, expect } from 'vitest';
import { STATUS_CODES } from 'node:http';
import type { App } from '../src/app.js';
import { formFieldsStartEmpty } from '../src/openapi/swagger-ui-forms.js';
import { problemSchema } from '../src/schemas/problem.js';
import { buildTestApp } from './test-app.js';

/**
 * The OpenAPI document says what the server really does: real requests are made to the app, and
 * each answer's status, media type and headers are checked against what the document declares for
 * that operation.
 */

const ADMIN_TOKEN = 'openapi-answers-admin-token';
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };
const ENV = { ADMIN_TOKEN, MAX_BODY_BYTES: '2000', MAX_BATCH_BYTES: '4000' };

interface Declared {
  description: string;
  content?: Record<string, { schema?: Schema }>;
  headers?: Record<string, { required?: boolean; schema?: Schema }>;
}
interface Schema {
  type?: string | string[];
  format?: string;
  maxLength?: number;
  pattern?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
}
interface Parameter {
  name: string;
  in: string;
  schema: Schema;
  description?: string;
  $ref?: string;
}
interface Operation {
  operationId: string;
  tags: string[];
  security: unknown[];
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: Schema; example?: unknown }> };
  responses: Record<string, Declared>;
}
interface Found {
  method: string;
  path: string;
  operation: Operation;
}
interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
}
type Document = { paths: Record<string, Record<string, Operation>>; components: { parameters: Record<string, Parameter> } };

const test = redisTest.extend<{ app: App; openapi: Document }>({
  app: async ({ redisUrl, prefix }, use) => {
    const app = await buildTestApp(redisUrl, prefix, ENV);
    await use(app);
    await app.close();
  },
  openapi: async ({ app }, use) => use((await app.inject({ url: '/openapi.json' })).json()),
});

function operationsOf(openapi: Document): Found[] {
  return Object.entries(openapi.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ method, path, operation })));
}

function find(openapi: Document, operationId: string): Found {
  const found = operationsOf(openapi).find(({ operation }) => operation.operationId === operationId);
  if (!found) throw new Error(`no operation ${operationId}`);
  return found;
}

const SAMPLE_PARAMETERS: Record<string, string> = { id: 'inference:01KAB3Z5V1Q7RJ8C2W4N6M9XYT', name: 'inference', stage: 'infer', slug: 'invalid-request' };

/** The operation's path with its parameters filled in: each by `fill`, or else a sample value. */
function urlOf(path: string, fill: (name: string) => string | undefined = () => undefined): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => fill(name) ?? encodeURIComponent(SAMPLE_PARAMETERS[name]!));
}

const ANSWER_HEADERS = ['location', 'retry-after', 'allow', 'www-authenticate', 'accept-encoding'];

/** The answer is one the document declares for the operation: its status, media type and headers. */
function expectDeclared({ operation }: Found, answer: Answer): Declared {
  const which = `${operation.operationId} ${answer.statusCode}`;
  const declared = operation.responses[String(answer.statusCode)];
  expect(declared, `${which} is not a documented status`).toBeDefined();
  const mediaType = String(answer.headers['content-type'] ?? '').split(';')[0]!.trim();
  expect(Object.keys(declared!.content ?? {}), `${which} media type`).toEqual(mediaType === '' ? [] : [mediaType]);
  const declaredHeaders = Object.keys(declared!.headers ?? {}).map((name) => name.toLowerCase());
  for (const name of ANSWER_HEADERS.filter((header) => answer.headers[header] !== undefined)) expect(declaredHeaders, `${which} sends ${name}`).toContain(name);
  for (const [name, header] of Object.entries(declared!.headers ?? {})) {
    if (header.required) expect(answer.headers[name.toLowerCase()], `${which} declares ${name} as always sent`).toBeDefined();
  }
  return declared!;
}

const FORM_BOUNDARY = 'conveyor-test-boundary';
const FORM = `--${FORM_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="note.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${FORM_BOUNDARY}--\r\n`;

/** A request each operation takes (valid, so it gets as far as its work); the document must list all of them. */
const SAMPLES: Record<string, { payload?: string | object; headers?: Record<string, string> }> = {
  getHealth: {},
  getReadiness: {},
  getMetrics: {},
  listModels: {},
  getProblem: {},
  createJob: { payload: { model: 'echo', prompt: 'hi' } },
  createJobBatch: { payload: { jobs: [{ model: 'echo', prompt: 'hi' }] } },
  getJob: {},
  cancelJob: {},
  getStageOutput: {},
  retryJob: {},
  uploadDocument: { payload: FORM, headers: { 'content-type': `multipart/form-data; boundary=${FORM_BOUNDARY}` } },
  listDeadLetters: {},
  retryDeadLetters: {},
  streamJobEvents: {},
  streamQueueEvents: {},
  broadcast: { payload: { type: 'reload-config' } },
  pauseQueue: {},
  resumeQueue: {},
  listQueues: {},
  getQueue: {},
  readHistory: {},
  replayHistory: { payload: { from: '0', to: '1' } },
};

function sampleRequest({ method, path, operation }: Found) {
  const sample = SAMPLES[operation.operationId];
  if (!sample) throw new Error(`no sample request for ${operation.operationId}: add one to SAMPLES`);
  const query = operation.operationId === 'streamQueueEvents' ? '?queue=inference' : '';
  return { method: method.toUpperCase() as 'GET', url: urlOf(path) + query, headers: { ...AUTH, ...sample.headers }, ...(sample.payload === undefined ? {} : { payload: sample.payload }) };
}

describe('every operation', () => {
  test('a method its path does not take is a documented 405 with Allow', async ({ app, openapi }) => {
    for (const found of operationsOf(openapi)) {
      expect(found.method, found.operation.operationId).not.toBe('patch');
      const answer = await app.inject({ method: 'PATCH', url: urlOf(found.path) });
      expect(answer.statusCode, found.path).toBe(405);
      expectDeclared(found, answer);
    }
  });

  test('a path parameter over 100 characters is a documented 414, one that cannot be percent-decoded a documented 400, and the documented limit is 100', async ({ app, openapi }) => {
    const withParameters = operationsOf(openapi).filter(({ path }) => path.includes('{'));
    expect(withParameters.length).toBeGreaterThan(10);
    for (const found of withParameters) {
      const method = found.method.toUpperCase() as 'GET';
      for (const parameter of (found.operation.parameters ?? []).filter((p) => p.in === 'path')) {
        expect(parameter.schema.maxLength, `${found.operation.operationId} ${parameter.name}`).toBe(100);
        const tooLong = await app.inject({ method, url: urlOf(found.path, (name) => (name === parameter.name ? 'x'.repeat(101) : undefined)) });
        expect(tooLong.statusCode, found.operation.operationId).toBe(414);
        expectDeclared(found, tooLong);
        const longest = await app.inject({ method, url: urlOf(found.path, (name) => (name === parameter.name ? 'x'.repeat(100) : undefined)), headers: AUTH });
        expect(longest.statusCode, found.operation.operationId).not.toBe(414);
        const undecodable = await app.inject({ method, url: urlOf(found.path, (name) => (name === parameter.name ? '%E0%A4%A' : undefined)) });
        expect(undecodable.json().type, found.operation.operationId).toBe('/problems/malformed-url');
        expectDeclared(found, undecodable);
      }
    }
  });

  test('a body over the limit is a documented 413; a body of a type it does not take, or compressed, a documented 415', async ({ app, openapi }) => {
    const takingBodies = operationsOf(openapi).filter(({ method }) => ['post', 'put', 'patch', 'delete'].includes(method));
    expect(takingBodies.length).toBeGreaterThan(8);
    for (const found of takingBodies) {
      const request = { method: found.method.toUpperCase() as 'POST', url: urlOf(found.path) };
      const tooLarge = await app.inject({ ...request, headers: { ...AUTH, 'content-type': 'application/json' }, payload: JSON.stringify({ text: 'x'.repeat(10_000) }) });
      expect(tooLarge.statusCode, found.operation.operationId).toBe(413);
      expectDeclared(found, tooLarge);
      const plainText = await app.inject({ ...request, headers: { ...AUTH, 'content-type': 'text/plain' }, payload: 'hi' });
      expect(plainText.statusCode, found.operation.operationId).toBe(415);
      expectDeclared(found, plainText);
      const compressed = await app.inject({ ...request, headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: '{}' });
      expect(compressed.statusCode, found.operation.operationId).toBe(415);
      expectDeclared(found, compressed);
    }
  });

  test('a write sent from a page on an origin CORS_ORIGINS does not list is a documented 403', async ({ app, openapi }) => {
    const writes = operationsOf(openapi).filter(({ method }) => method !== 'get');
    expect(writes.length).toBeGreaterThan(8);
    for (const found of writes) {
      const answer = await app.inject({ method: found.method.toUpperCase() as 'POST', url: urlOf(found.path), headers: { ...AUTH, origin: 'https://elsewhere.example' } });
      expect(answer.statusCode, found.operation.operationId).toBe(403);
      expectDeclared(found, answer);
    }
  });

  test("every request body has an example, and each is taken as it is (Swagger UI's Try it out sends it)", async ({ app, openapi }) => {
    const withBodies = operationsOf(openapi).filter(({ operation }) => operation.requestBody !== undefined);
    expect(withBodies.length).toBeGreaterThan(8);
    for (const found of withBodies) {
      const { operationId, requestBody } = found.operation;
      const json = requestBody!.content['application/json'];
      let answer;
      if (json) {
        expect(json.example, operationId).toBeDefined();
        answer = await app.inject({ method: found.method.toUpperCase() as 'POST', url: urlOf(found.path), headers: { ...AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(json.example) });
      } else {
        // The upload form: its optional fields are left empty (see the test of the form below), so the file alone.
        answer = await app.inject({ method: 'POST', url: urlOf(found.path), headers: { 'content-type': `multipart/form-data; boundary=${FORM_BOUNDARY}` }, payload: FORM });
      }
      // Taken: a job ID in the path that no job has is a 404, not a refusal of the body.
      expect([200, 202, 404], `${operationId}: ${answer.body}`).toContain(answer.statusCode);
      if (answer.statusCode === 404) expect(answer.json().type, operationId).toBe('/problems/job-not-found');
    }
  });

  test('a Host that ALLOWED_HOSTS does not list is a documented 421; the problem schema asks no instance of the answers Node gives before a request exists', async ({ redisUrl, prefix, openapi }) => {
    const guarded = await buildTestApp(redisUrl, prefix, { ...ENV, ALLOWED_HOSTS: 'api.example' });
    try {
      for (const found of operationsOf(openapi)) {
        const answer = await guarded.inject({ method: found.method.toUpperCase() as 'GET', url: urlOf(found.path), headers: { ...AUTH, host: 'elsewhere.example' } });
        expect(answer.statusCode, found.operation.operationId).toBe(421);
        expectDeclared(found, answer);
        for (const status of ['400', '408', '417', '431']) expect(found.operation.responses[status], `${found.operation.operationId} ${status}`).toBeDefined();
      }
    } finally {
      await guarded.close();
    }
    const problem = (openapi as unknown as { components: { schemas: { Problem: { required: string[] } } } }).components.schemas.Problem;
    expect(problem.required).toEqual(['type', 'title', 'status', 'detail']);
  });

  test('an admin operation without the token is a documented 401 with WWW-Authenticate', async ({ app, openapi }) => {
    const admin = operationsOf(openapi).filter(({ operation }) => operation.tags.includes('admin'));
    expect(admin.length).toBe(5);
    for (const found of admin) {
      const answer = await app.inject({ method: found.method.toUpperCase() as 'GET', url: urlOf(found.path) });
      expect(answer.statusCode, found.operation.operationId).toBe(401);
      expectDeclared(found, answer);
    }
  });

  test('with Redis unreachable, each answer is documented: a 503 with Retry-After from every operation that uses Redis', async ({ openapi }) => {
    const down = await buildTestApp(`redis://127.0.0.1:${await freePort()}`, 'down', { ...ENV, EXPECT_REDIS_DOWN: '1' });
    try {
      const unavailable: string[] = [];
      for (const found of operationsOf(openapi)) {
        const answer = await down.inject(sampleRequest(found));
        expectDeclared(found, answer);
        if (answer.statusCode === 503) unavailable.push(found.operation.operationId);
      }
      expect(unavailable).toContain('streamQueueEvents');
      expect(unavailable.length).toBe(operationsOf(openapi).length - 4);
    } finally {
      await down.close();
    }
  });

  test('each sample request gets a documented answer (the endless queue stream aside)', async ({ app, openapi }) => {
    for (const found of operationsOf(openapi).filter(({ operation }) => operation.operationId !== 'streamQueueEvents')) {
      const answer = await app.inject(sampleRequest(found));
      expect(answer.statusCode, found.operation.operationId).toBeLessThan(500);
      expectDeclared(found, answer);
    }
    expect(Object.keys(SAMPLES).sort()).toEqual(operationsOf(openapi).map(({ operation }) => operation.operationId).sort());
  });

  test('every response has a description of its own, and every operation may send X-Request-Id, which the server uses as documented', async ({ app, openapi }) => {
    for (const { operation } of operationsOf(openapi)) {
      for (const [status, declared] of Object.entries(operation.responses)) expect(declared.description, `${operation.operationId} ${status}`).not.toMatch(/^(Default Response|RFC 9457 problem details)$/);
      expect(operation.parameters, operation.operationId).toContainEqual({ $ref: '#/components/parameters/RequestId' });
    }
    const requestId = openapi.components.parameters['RequestId']!;
    expect(requestId).toMatchObject({ name: 'X-Request-Id', in: 'header', required: false });
    const pattern = new RegExp(requestId.schema.pattern!);
    for (const sent of ['trace.1:a-b_C', 'x'.repeat(128)]) {
      expect(pattern.test(sent), sent).toBe(true);
      expect((await app.inject({ url: '/jobs/nope', headers: { 'x-request-id': sent } })).json().instance).toBe(`urn:request:${sent}`);
    }
    for (const sent of ['has space', 'x'.repeat(129), '<b>']) {
      expect(pattern.test(sent), sent).toBe(false);
      expect((await app.inject({ url: '/jobs/nope', headers: { 'x-request-id': sent } })).json().instance).not.toBe(`urn:request:${sent}`);
    }
  });
});

describe('problem answers', () => {
  test('every problem answer has an example of its own status, a problem the API sends: its type, title and fields', async ({ app, openapi }) => {
    const problem = (openapi as unknown as { components: { schemas: { Problem: { properties: { status: { minimum: number; maximum: number } } } } } }).components.schemas.Problem;
    expect(problem.properties.status).toMatchObject({ minimum: 400, maximum: 599 });
    const titles = new Map<string, string>();
    let examples = 0;
    for (const { operation } of operationsOf(openapi)) {
      for (const [status, declared] of Object.entries(operation.responses)) {
        const media = declared.content?.['application/problem+json'] as { example?: Record<string, unknown> } | undefined;
        if (!media) continue;
        const which = `${operation.operationId} ${status}`;
        const example = media.example;
        expect(example, which).toBeDefined();
        expect(problemSchema.safeParse(example).success, which).toBe(true);
        expect(example!['status'], which).toBe(Number(status));
        expect(JSON.stringify(example), which).not.toMatch(/additionalProp|-9007199254740991/);
        const type = String(example!['type']);
        if (type === 'about:blank') {
          // Node's answers before a request exists: no instance.
          expect(example!['instance'], which).toBeUndefined();
          expect(example!['title'], which).toBe(STATUS_CODES[Number(status)]);
        } else {
          if (!titles.has(type)) {
            const page = await app.inject({ url: type });
            expect(page.statusCode, `${which} ${type}`).toBe(200);
            titles.set(type, page.json().title);
          }
          expect(example!['title'], which).toBe(titles.get(type));
          expect(example!['instance'], which).toMatch(/^urn:request:[0-9a-f-]{36}$/);
        }
        examples += 1;
      }
    }
    expect(examples).toBeGreaterThan(150);
  });
});

describe('answers that are not JSON', () => {
  test("a job's event stream is sent as the documented text/event-stream; a reconnect after its end gets a documented answer", async ({ app, openapi }) => {
    const stream = find(openapi, 'streamJobEvents');
    expect(Object.keys(stream.operation.responses['200']!.content!)).toEqual(['text/event-stream']);
    expect(stream.operation.responses['200']!.description).toMatch(/`state`.*`completed`, `dead` or `cancelled`/);
    expect(stream.operation.responses['204']).toEqual({ description: expect.stringMatching(/EventSource stops/) });
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi', delay_ms: 60_000 } })).json();
    expect((await app.inject({ method: 'DELETE', url: `/jobs/${job_id}` })).statusCode).toBe(200);
    const ended = await app.inject({ url: `/jobs/${job_id}/events` });
    expect(ended.statusCode).toBe(200);
    expect(ended.body).toContain('event: state');
    expectDeclared(stream, ended);
    expectDeclared(stream, await app.inject({ url: `/jobs/${job_id}/events`, headers: { 'last-event-id': 'end' } }));
  });

  test("a queue's event stream is sent as the documented text/event-stream", async ({ app, openapi }) => {
    const stream = find(openapi, 'streamQueueEvents');
    expect(stream.operation.responses['200']!.description).toMatch(/`subscribed`.*`resync`/);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address() as { port: number };
    const abort = new AbortController();
    try {
      const response = await fetch(`http://127.0.0.1:${address.port}/events?queue=inference`, { signal: abort.signal });
      expect(response.status).toBe(200);
      expectDeclared(stream, { statusCode: response.status, headers: Object.fromEntries(response.headers) });
    } finally {
      abort.abort();
    }
  });

  test('the metrics are sent as the documented text/plain', async ({ app, openapi }) => {
    const metrics = find(openapi, 'getMetrics');
    const answer = await app.inject({ url: '/metrics' });
    expect(answer.statusCode).toBe(200);
    expect(expectDeclared(metrics, answer).description).toMatch(/Prometheus/);
  });
});

describe('successful answers', () => {
  test('Location is a documented header of the answers that send it: createJob 202 and 200, uploadDocument 202, retryJob 202', async ({ app, openapi, redis, prefix }) => {
    const createJob = find(openapi, 'createJob');
    const headers = { 'idempotency-key': 'openapi-location' };
    const created = await app.inject({ method: 'POST', url: '/jobs', headers, payload: { model: 'echo', prompt: 'hi' } });
    expect(created.statusCode).toBe(202);
    expect(created.headers.location).toBe(`/jobs/${created.json().job_id}`);
    expectDeclared(createJob, created);
    const again = await app.inject({ method: 'POST', url: '/jobs', headers, payload: { model: 'echo', prompt: 'hi' } });
    expect(again.statusCode).toBe(200);
    expectDeclared(createJob, again);
    expect(createJob.operation.responses['200']!.description).toMatch(/Idempotency-Key/);

    const uploaded = await app.inject(sampleRequest(find(openapi, 'uploadDocument')));
    expect(uploaded.statusCode).toBe(202);
    expect(uploaded.headers.location).toBeDefined();
    expectDeclared(find(openapi, 'uploadDocument'), uploaded);

    const keys = new QueueKeys(prefix, 'inference');
    for (const held of (await takeJobs(redis, keys, takeRequest({ consumer: 'w1' }))).jobs) {
      await failAttempt(redis, keys, held, { message: 'broken', retryable: false, stage: 'infer', attempt: 1, at: Date.now() }, undefined, 3, 60);
    }
    const retried = await app.inject({ method: 'POST', url: `/jobs/${created.json().job_id}/retry` });
    expect(retried.statusCode).toBe(202);
    expect(retried.headers.location).toBeDefined();
    expectDeclared(find(openapi, 'retryJob'), retried);
  });

  test("timestamps in answers are documented as date-time, and are RFC 3339 date-times", async ({ app, openapi }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi' } })).json();
    const found: string[] = [];
    const collect = (schema: Schema | undefined, value: unknown, path: string) => {
      if (!schema || value === null || value === undefined) return;
      if (schema.format === 'date-time') {
        expect(value, path).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
        found.push(path);
      }
      for (const [name, property] of Object.entries(schema.properties ?? {})) collect(property, (value as Record<string, unknown>)[name], `${path}.${name}`);
      if (schema.items && Array.isArray(value)) value.forEach((item, i) => collect(schema.items, item, `${path}[${i}]`));
      for (const option of schema.anyOf ?? []) collect(option, value, path);
    };
    for (const [operationId, url] of [
      ['getJob', `/jobs/${job_id}`],
      ['getQueue', '/queues/inference'],
    ] as const) {
      const answer = await app.inject({ url });
      collect(find(openapi, operationId).operation.responses['200']!.content!['application/json']!.schema, answer.json(), operationId);
    }
    expect(found).toEqual(expect.arrayContaining(['getJob.created_at', 'getJob.updated_at', 'getQueue.measured_at', 'getQueue.counts.last_minute.since']));
  });

  test("integers carry only bounds of their own, not zod's ±9007199254740991, which Swagger UI and Postman made examples of", async ({ openapi }) => {
    const text = JSON.stringify(openapi);
    expect(text).not.toMatch(/9007199254740991/);
    const getJob = find(openapi, 'getJob').operation.responses['200']!.content!['application/json']!.schema as Schema;
    expect(getJob.properties!['attempts']).toMatchObject({ type: 'integer' });
    expect(getJob.properties!['attempts']).not.toHaveProperty('minimum');
    const replay = find(openapi, 'replayHistory').operation.requestBody as { content: Record<string, { schema: Schema }> };
    expect(replay.content['application/json']!.schema.properties!['limit']).toMatchObject({ minimum: 1, maximum: 1000 });
  });
});

describe('requests', () => {
  test('pause and resume are served without a body, and the document says their body is optional; createJob needs one', async ({ app, openapi }) => {
    for (const operationId of ['pauseQueue', 'resumeQueue']) {
      const found = find(openapi, operationId);
      expect(found.operation.requestBody?.required, operationId).toBe(false);
      const answer = await app.inject({ method: 'POST', url: urlOf(found.path), headers: AUTH });
      expect(answer.statusCode, operationId).toBe(200);
    }
    expect(find(openapi, 'createJob').operation.requestBody?.required).toBe(true);
    expect((await app.inject({ method: 'POST', url: '/jobs' })).statusCode).toBe(400);
  });

  test('run_at and delay_ms say they cannot be given together, as the server refuses; the upload names the formats the worker reads', async ({ app, openapi }) => {
    const body = find(openapi, 'createJob').operation.requestBody!.content['application/json']!.schema;
    expect(body.properties!['run_at']!.description).toMatch(/delay_ms/);
    expect(body.properties!['delay_ms']!.description).toMatch(/run_at/);
    const both = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi', run_at: new Date(Date.now() + 60_000).toISOString(), delay_ms: 5 } });
    expect(both.statusCode).toBe(400);
    expect(both.json().detail).toMatch(/run_at or delay_ms, not both/);
    const file = find(openapi, 'uploadDocument').operation.requestBody!.content['multipart/form-data']!.schema.properties!['file']!;
    for (const format of ['PDF', 'DOCX', 'HTML', 'Markdown', 'plain text']) expect(file.description).toContain(format);
  });

  test('every default has its schema\'s type (a limit\'s is the number, not its text); run_at\'s pattern takes the times the server takes, seconds left out too', async ({ app, openapi }) => {
    const mistyped: string[] = [];
    const defaults: unknown[] = [];
    const visit = (value: unknown, where: string): void => {
      if (!value || typeof value !== 'object') return;
      const schema = value as { type?: unknown; default?: unknown };
      if ('default' in schema && typeof schema.type === 'string') {
        defaults.push(schema.default);
        const type = schema.type === 'integer' ? 'number' : schema.type;
        if (typeof schema.default !== type || (schema.type === 'integer' && !Number.isInteger(schema.default))) mistyped.push(`${where}: ${JSON.stringify(schema.default)} in a ${schema.type}`);
      }
      for (const [key, nested] of Object.entries(value)) visit(nested, `${where}/${key}`);
    };
    visit(openapi.paths, '#/paths');
    expect(mistyped).toEqual([]);
    expect(defaults).toContain(50);
    const limit = find(openapi, 'listDeadLetters').operation.parameters!.find((parameter) => parameter.name === 'limit')!;
    expect(limit.schema).toMatchObject({ type: 'integer', default: 50 });

    const runAt = find(openapi, 'createJob').operation.requestBody!.content['application/json']!.schema.properties!['run_at']!;
    expect(runAt.format).toBeUndefined();
    const pattern = new RegExp(runAt.pattern!);
    const day = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    for (const time of [`${day}T09:00Z`, `${day}T09:00:00Z`, `${day}t09:00:00.123z`, `${day} 10:00+01:00`]) {
      expect(pattern.test(time), time).toBe(true);
      const answer = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'later', run_at: time } });
      expect(answer.statusCode, time).toBe(202);
    }
    for (const time of [`${day}T09Z`, `${day}T09:00`, `${day}`]) {
      expect(pattern.test(time), time).toBe(false);
      expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'later', run_at: time } })).statusCode, time).toBe(400);
    }
  });

  test("the upload form's optional fields have no example for Swagger UI to fill in and send; left out, each is what its description and default say", async ({ app, openapi }) => {
    const schema = find(openapi, 'uploadDocument').operation.requestBody!.content['multipart/form-data']!.schema as Schema & { required: string[]; properties: Record<string, Schema & { example?: unknown; examples?: unknown[]; default?: unknown }> };
    expect(schema.required).toEqual(['file']);
    const optional = Object.entries(schema.properties).filter(([name]) => name !== 'file');
    expect(optional.map(([name]) => name)).toEqual(['pipeline', 'priority', 'metadata', 'max_attempts', 'timeout_ms']);
    for (const [name, property] of optional) {
      expect(property.example, name).toBeUndefined();
      expect(property.examples, name).toBeUndefined();
    }
    // A default is what the API does with the field left out, so even a tool that fills it in sends nothing new.
    expect(Object.fromEntries(optional.filter(([, property]) => property.default !== undefined).map(([name, property]) => [name, property.default]))).toEqual({ pipeline: 'documents', priority: 'normal' });
    expect(schema.properties['metadata']!.description).toContain('e.g. {"user_id":"12345"}');
    expect(schema.properties['timeout_ms']!.description).toMatch(/10 minutes/);
    const uploaded = await app.inject({ method: 'POST', url: '/documents', headers: { 'content-type': `multipart/form-data; boundary=${FORM_BOUNDARY}` }, payload: FORM });
    expect(uploaded.statusCode).toBe(202);
    const job = (await app.inject({ url: `/jobs/${uploaded.json().job_id}` })).json();
    expect(job).toMatchObject({ queue: 'documents', priority: 'normal' });
    expect(job.input.metadata).toBeUndefined();
  });

  test("Swagger UI leaves a form's optional fields empty, and does not send them empty: its page loads the plugin that says so", async ({ app }) => {
    const script = await app.inject({ url: '/docs/static/swagger-initializer.js' });
    expect(script.statusCode).toBe(200);
    expect(script.body).toContain(formFieldsStartEmpty.toString());
    // What the plugin does to the props Swagger UI gives its two components.
    const plugin = formFieldsStartEmpty({ React: { createElement: (_type, props) => props } });
    const field = (props: Record<string, unknown>) => plugin.wrapComponents['JsonSchemaForm']!('form')(props) as Record<string, unknown>;
    expect(field({ dispatchInitialValue: true, required: false, value: 'string' })).toMatchObject({ dispatchInitialValue: false });
    expect(field({ dispatchInitialValue: true, required: true, value: 'string' })).toMatchObject({ dispatchInitialValue: true });
    expect(field({ dispatchInitialValue: false, required: false })).toMatchObject({ dispatchInitialValue: false });
    const tick = plugin.wrapComponents['ParameterIncludeEmpty']!('tick')({ isIncludedOptions: { key: 'metadata', shouldDispatchInit: true, defaultValue: true } });
    expect(tick).toMatchObject({ isIncludedOptions: { key: 'metadata', shouldDispatchInit: true, defaultValue: false } });
  });

  test("a job's event stream takes Last-Event-ID, documented as an optional header: `end` after the job ended is a 204, any other value a stream from its state", async ({ app, openapi }) => {
    const stream = find(openapi, 'streamJobEvents');
    const header = stream.operation.parameters!.find((parameter) => parameter.in === 'header' && parameter.name.toLowerCase() === 'last-event-id');
    expect(header).toMatchObject({ required: false, schema: { type: 'string' } });
    expect(header!.description).toMatch(/`end`.*204/);
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi', delay_ms: 60_000 } })).json();
    expect((await app.inject({ method: 'DELETE', url: `/jobs/${job_id}` })).statusCode).toBe(200);
    const ended = await app.inject({ url: `/jobs/${job_id}/events`, headers: { 'last-event-id': 'end' } });
    expect(ended.statusCode).toBe(204);
    const numbered = await app.inject({ url: `/jobs/${job_id}/events`, headers: { 'last-event-id': '3' } });
    expect(numbered.statusCode).toBe(200);
    expect(numbered.body).toContain('event: state');
  });

  test('problem pages have their own tag, and their slug a description', async ({ openapi }) => {
    const getProblem = find(openapi, 'getProblem').operation;
    expect(getProblem.tags).toEqual(['problems']);
    expect(getProblem.parameters![0]).toMatchObject({ name: 'slug', description: expect.stringContaining('invalid-request') });
  });
});
