import { redisTest } from '@conveyor/testing';
import { describe, expect } from 'vitest';
import type { App } from '../src/app.js';
import { buildTestApp } from './test-app.js';

/**
 * Every route the OpenAPI document lists, sent path segments, query values, headers, bodies and
 * content types a client might send by mistake or on purpose. Each answer must be a 2xx or 3xx, or a 4xx
 * with a problem body whose status is the response's: never a 5xx, never a hang.
 */
const token = 'hostile-input-admin-token-0123';

const test = redisTest.extend<{ app: App; base: string }>({
  app: async ({ redisUrl, prefix }, use) => {
    const app = await buildTestApp(redisUrl, prefix, { ADMIN_TOKEN: token, QUEUE_PARTITIONS: 'inference=2' });
    await use(app);
    await app.close();
  },
  base: async ({ app }, use) => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    await use(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
  },
});

interface Operation {
  method: string;
  path: string;
  query: string[];
  hasBody: boolean;
}

const segments = [
  'x'.repeat(4096),
  '%00',
  '%E0%A4%A',
  '%25',
  '..%2F..%2Fetc%2Fpasswd',
  '%F0%9F%98%80',
  '%ED%A0%80',
  'inference.99:01JDQ8K3ABCDEFGHJKMNPQRSTV',
  'inference.-1:x',
  'inference.00:1-1',
  'inference:1795425151333-0',
  'inference:',
  ':',
  '1e309',
  '-1',
  '__proto__',
  'constructor',
];

const queryValues = ['', '-1', '0', '1e309', 'NaN', 'x'.repeat(4096), '%00', '%E0%A4%A', '~', '1-1~99', '18446744073709551616-0', '[object Object]'];

const jsonBodies = [
  '',
  'not json',
  '{',
  '[]',
  'null',
  '"text"',
  '123',
  '{}',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  '{"model":"echo","prompt":"\\ud800"}',
  '{"model":"echo","prompt":"x","priority":1e309}',
  '{"model":"echo","prompt":"x","run_at":"9999-99-99T99:99:99Z"}',
  '{"model":"echo","prompt":"x","max_attempts":1e20,"timeout_ms":-1}',
  '{"jobs":[{"model":"echo","prompt":"x","idempotency_key":""}]}',
  '{"jobs":[null]}',
  '{"from":"~","to":"-","partition":-1}',
  '{"from":"0-0","to":"18446744073709551616-0","partition":1e309}',
  `{"jobs":[${'{"model":"echo","prompt":"x"},'.repeat(1500)}{}]}`,
];

const otherBodies: Array<[string, string]> = [
  ['text/plain', 'hello'],
  ['application/json; charset=latin1', '{}'],
  ['application/x-www-form-urlencoded', 'model=echo&prompt=x'],
  ['multipart/form-data; boundary=xyz', '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\nnot a pdf\r\n--xyz'],
  ['multipart/form-data', 'no boundary at all'],
  ['application/pdf', '%PDF-1.4 truncated'],
  ['', 'no content type'],
];

/** Headers the API reads, each with values it must refuse or ignore; latin-1 bytes are the most a header can carry here. */
const headerSets: Array<Record<string, string>> = [
  { 'idempotency-key': '' },
  { 'idempotency-key': 'k'.repeat(10_000) },
  { 'idempotency-key': 'caf\u00e9 \u00ff' },
  { 'last-event-id': 'not-an-id' },
  { 'last-event-id': '18446744073709551616-18446744073709551616' },
  { 'x-request-id': '<script>alert(1)</script>' },
  { 'x-request-id': 'r'.repeat(5_000) },
  { authorization: 'Bearer' },
  { authorization: `Bearer ${'t'.repeat(10_000)}` },
  { authorization: 'Basic \u00e9\u00e9' },
  { accept: 'text/event-stream' },
  { accept: 'application/xml' },
  { 'content-encoding': 'gzip' },
  { 'content-encoding': 'br, identity' },
];

async function operations(base: string): Promise<Operation[]> {
  const document = (await (await fetch(`${base}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }>; requestBody?: unknown }>>;
  };
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path,
      query: (operation.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name),
      hasBody: operation.requestBody !== undefined,
    })),
  );
}

/** A path with every `{param}` replaced by `segment`, or by a well-formed value when segment is undefined. */
function pathWith(path: string, segment?: string): string {
  return path.replace(/\{([^}]+)\}/g, (_match, name: string) => segment ?? (name === 'name' ? 'inference' : name === 'stage' ? 'infer' : 'inference:1795425151333-0'));
}

interface Answer {
  request: string;
  status: number;
  contentType: string;
  body: string;
}

/** Sends one request; an event stream's answer is cut after its headers. */
async function send(base: string, method: string, url: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const request = `${method} ${url.length > 200 ? `${url.slice(0, 200)}…` : url} ${JSON.stringify(init.headers ?? {})} ${(init.body ?? '').slice(0, 80)}`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 5_000);
  try {
    const response = await fetch(`${base}${url}`, { method, headers: init.headers, body: init.body, signal: abort.signal, redirect: 'manual' });
    const contentType = response.headers.get('content-type') ?? '';
    if (contentType.startsWith('text/event-stream')) {
      abort.abort();
      return { request, status: response.status, contentType, body: '' };
    }
    return { request, status: response.status, contentType, body: await response.text() };
  } catch (error) {
    return { request, status: 0, contentType: '', body: `no answer: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

/** What is wrong with an answer, or undefined when it is a 2xx/3xx, or a 4xx with its problem body. */
function fault(answer: Answer): string | undefined {
  if (answer.status >= 200 && answer.status < 400) return undefined;
  if (answer.status < 400 || answer.status >= 500) return `${answer.status}: ${answer.body.slice(0, 300)}`;
  if (!answer.contentType.startsWith('application/problem+json')) return `${answer.status} as ${answer.contentType}`;
  const problem = JSON.parse(answer.body) as Record<string, unknown>;
  if (problem['status'] !== answer.status) return `problem status ${String(problem['status'])} on a ${answer.status}`;
  for (const member of ['type', 'title', 'detail']) {
    if (typeof problem[member] !== 'string' || problem[member] === '') return `problem without ${member}: ${answer.body.slice(0, 300)}`;
  }
  return undefined;
}

/** The job IDs a submit answer names (`job_id`, or each of `jobs`); none for other answers. */
function jobIdsIn(body: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const { job_id: jobId, jobs } = (parsed ?? {}) as { job_id?: unknown; jobs?: unknown };
  const named = [jobId, ...(Array.isArray(jobs) ? jobs.map((job: { job_id?: unknown } | null) => job?.job_id) : [])];
  return named.filter((id): id is string => typeof id === 'string');
}

describe('hostile input on every documented route', () => {
  test('gets a 2xx, a 3xx or a 4xx problem, never a 5xx; every job it accepted can be read, and the API still takes jobs after', async ({ base }) => {
    const ops = await operations(base);
    expect(ops.length).toBeGreaterThan(20);
    const answers: Answer[] = [];
    const admin = { authorization: `Bearer ${token}` };

    for (const op of ops) {
      const withParams = op.path.includes('{');
      for (const headers of [{}, admin]) {
        if (withParams) {
          for (const segment of segments) answers.push(await send(base, op.method, pathWith(op.path, segment), { headers }));
        }
        const path = pathWith(op.path);
        for (const name of op.query) {
          for (const value of queryValues) answers.push(await send(base, op.method, `${path}?${name}=${value}`, { headers }));
          answers.push(await send(base, op.method, `${path}?${name}=1&${name}=2`, { headers }));
        }
        answers.push(await send(base, op.method, `${path}?__proto__=1&constructor=x`, { headers }));
        for (const extra of headerSets) {
          const body = op.hasBody ? '{"model":"echo","prompt":"headers"}' : undefined;
          answers.push(await send(base, op.method, path, { headers: { ...headers, ...extra, ...(body ? { 'content-type': 'application/json' } : {}) }, body }));
        }
        if (op.hasBody) {
          for (const body of jsonBodies) answers.push(await send(base, op.method, path, { headers: { ...headers, 'content-type': 'application/json' }, body }));
          for (const [contentType, body] of otherBodies) {
            answers.push(await send(base, op.method, path, { headers: contentType === '' ? headers : { ...headers, 'content-type': contentType }, body }));
          }
        }
      }
    }

    const faults = answers.flatMap((answer) => {
      const wrong = fault(answer);
      return wrong ? [`${answer.request} → ${wrong}`] : [];
    });
    expect(faults).toEqual([]);
    // The sweep reached the handlers: some answers were 4xx problems of the routes' own, not only 404s.
    expect(answers.filter((answer) => answer.status === 400).length).toBeGreaterThan(100);
    expect(answers.filter((answer) => answer.status === 404).length).toBeGreaterThan(50);

    // Nothing accepted was lost, nothing half-written: every job a 2xx answer named can be read.
    const accepted = answers.filter((answer) => answer.status >= 200 && answer.status < 300).flatMap((answer) => jobIdsIn(answer.body));
    expect(accepted.length).toBeGreaterThan(10);
    const unreadable = [];
    for (const jobId of new Set(accepted)) {
      const read = await send(base, 'GET', `/jobs/${encodeURIComponent(jobId)}`);
      if (read.status !== 200 || (JSON.parse(read.body) as { id?: string }).id !== jobId) unreadable.push(`${jobId}: ${read.status} ${read.body.slice(0, 200)}`);
    }
    expect(unreadable).toEqual([]);

    const after = await send(base, 'POST', '/jobs', { headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"still here"}' });
    expect(after.status).toBe(202);
  });
});
