import { apiEnvSchema, createRedis } from '@conveyor/shared';
import { redisTest } from '@conveyor/testing';
import { describe, expect } from 'vitest';
import type { App } from '../src/app.js';
import { buildTestApp } from './test-app.js';

const frontend = 'http://localhost:5173';
const corsHeaders = (headers: Record<string, unknown>) => Object.keys(headers).filter((name) => name.startsWith('access-control-'));

const test = redisTest.extend<{ app: App; closed: App }>({
  app: async ({ redisUrl, prefix }, use) => {
    const app = await buildTestApp(redisUrl, prefix, { CORS_ORIGINS: `${frontend},https://app.example.com`, SSE_HEARTBEAT: '1s' });
    await use(app);
    await app.close();
  },
  closed: async ({ redisUrl, prefix }, use) => {
    const app = await buildTestApp(redisUrl, prefix);
    await use(app);
    await app.close();
  },
});

describe('browser frontends on the origins in CORS_ORIGINS', () => {
  test('a preflight for a JSON POST with an Idempotency-Key and the headers a tracing SDK adds is allowed', async ({ app }) => {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/jobs',
      headers: { origin: frontend, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,idempotency-key,authorization,traceparent,sentry-trace' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(frontend);
    expect(String(preflight.headers['access-control-allow-methods']).split(/,\s*/)).toEqual(expect.arrayContaining(['POST', 'DELETE']));
    expect(String(preflight.headers['access-control-allow-headers']).split(/,\s*/)).toEqual(['content-type', 'idempotency-key', 'authorization', 'traceparent', 'sentry-trace']);
    expect(String(preflight.headers['vary'])).toContain('Access-Control-Request-Headers');
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
  });

  test('answers, problems included, let the page read them and the Location header', async ({ app }) => {
    const created = await app.inject({ method: 'POST', url: '/jobs', headers: { origin: frontend }, payload: { model: 'echo' } });
    expect(created.statusCode).toBe(202);
    expect(created.headers['access-control-allow-origin']).toBe(frontend);
    expect(String(created.headers['access-control-expose-headers'])).toContain('location');
    const refused = await app.inject({ method: 'POST', url: '/jobs', headers: { origin: frontend }, payload: { model: 'gpt-9' } });
    expect(refused.statusCode).toBe(400);
    expect(refused.headers['access-control-allow-origin']).toBe(frontend);
  });

  test('an event stream carries the CORS headers too', async ({ app }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).json();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const abort = new AbortController();
    const response = await fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/jobs/${job_id}/events`, { headers: { origin: frontend }, signal: abort.signal });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('access-control-allow-origin')).toBe(frontend);
    abort.abort();
  });

  test('another origin, or none, gets no CORS headers, so the browser keeps the answer from its page', async ({ app }) => {
    const other = await app.inject({ method: 'GET', url: '/queues', headers: { origin: 'https://evil.example' } });
    expect(other.statusCode).toBe(200);
    expect(corsHeaders(other.headers)).toEqual([]);
    expect(other.headers['vary']).toBe('Origin');
    const none = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } });
    expect(none.statusCode).toBe(202);
    expect(corsHeaders(none.headers)).toEqual([]);
  });

  test('a preflight from an origin CORS_ORIGINS does not list is the 403 a POST from it gets, saying what to list', async ({ app }) => {
    const preflight = await app.inject({ method: 'OPTIONS', url: '/jobs', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.statusCode).toBe(403);
    expect(preflight.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(corsHeaders(preflight.headers)).toEqual([]);
    expect(preflight.headers['vary']).toBe('Origin');
    expect(preflight.json()).toMatchObject({
      type: '/problems/cross-origin-refused',
      status: 403,
      detail: 'This preflight (the OPTIONS a browser sends before a cross-origin POST) came from a page on https://evil.example, which CORS_ORIGINS does not list, so the browser will not send the POST. To call the API from that page, add https://evil.example to CORS_ORIGINS.',
    });
    // One for a read with headers a page may not send unasked (Authorization) is refused too.
    const read = await app.inject({ method: 'OPTIONS', url: '/queues/inference/history', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    expect(read.statusCode).toBe(403);
    expect(read.json().detail).toContain('add https://evil.example to CORS_ORIGINS');
  });

  test('a preflight from a listed origin to a path or method the API does not have keeps its answer', async ({ app }) => {
    const unknown = await app.inject({ method: 'OPTIONS', url: '/nowhere', headers: { origin: frontend, 'access-control-request-method': 'POST' } });
    const before = { status: unknown.statusCode, allowOrigin: unknown.headers['access-control-allow-origin'] };
    // What @fastify/cors answers a listed origin's preflight: 204 with its headers, wherever it goes.
    expect(before).toEqual({ status: 204, allowOrigin: frontend });
    const method = await app.inject({ method: 'OPTIONS', url: '/queues', headers: { origin: frontend, 'access-control-request-method': 'DELETE' } });
    expect(method.statusCode).toBe(204);
  });

  test('an OPTIONS request that is not a preflight gets the 405 problem it gets without CORS', async ({ app }) => {
    for (const headers of [{}, { origin: frontend }, { 'access-control-request-method': 'POST' }]) {
      const response = await app.inject({ method: 'OPTIONS', url: '/jobs', headers });
      expect(response.statusCode, JSON.stringify(headers)).toBe(405);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.headers['allow']).toBe('POST');
      expect(response.json()).toMatchObject({ type: '/problems/method-not-allowed', status: 405 });
    }
  });

  test('without CORS_ORIGINS no CORS header is sent and a preflight is refused with a 403 that says to set CORS_ORIGINS', async ({ closed }) => {
    const response = await closed.inject({ method: 'GET', url: '/queues', headers: { origin: frontend } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await closed.inject({ method: 'OPTIONS', url: '/jobs', headers: { origin: frontend, 'access-control-request-method': 'POST' } });
    expect(preflight.statusCode).toBe(403);
    expect(corsHeaders(preflight.headers)).toEqual([]);
    expect(preflight.json()).toMatchObject({
      type: '/problems/cross-origin-refused',
      detail: `This preflight (the OPTIONS a browser sends before a cross-origin POST) came from a page on ${frontend}. CORS_ORIGINS is not set, which lets no page on another origin call the API, so the browser will not send the POST. To call the API from that page, set CORS_ORIGINS=${frontend} (several origins separated by commas).`,
    });
    // An OPTIONS that is not a preflight is still the route's 405.
    for (const headers of [{}, { origin: frontend }, { 'access-control-request-method': 'POST' }]) {
      const options = await closed.inject({ method: 'OPTIONS', url: '/jobs', headers });
      expect(options.statusCode, JSON.stringify(headers)).toBe(405);
      expect(options.json()).toMatchObject({ type: '/problems/method-not-allowed' });
    }
  });
});

describe('a page on an origin CORS_ORIGINS does not list', () => {
  // Browsers send these without a preflight, so CORS alone would only hide the answer.
  const writes = [
    { name: 'a JSON job', request: { method: 'POST', url: '/jobs', payload: { model: 'echo' } } },
    { name: 'a form upload', request: { method: 'POST', url: '/documents', headers: { 'content-type': 'multipart/form-data; boundary=b' }, payload: '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n--b--\r\n' } },
    { name: 'an empty POST retrying dead letters', request: { method: 'POST', url: '/queues/inference/dead/retry' } },
  ] as const;

  test('cannot queue jobs, upload or retry: 403, nothing written, and the detail says what to list', async ({ app, closed, redisUrl, prefix }) => {
    const redis = createRedis(redisUrl, { role: 'command', name: 'cors-test' });
    // What the APIs wrote at start (consumer groups); a refused request adds nothing to it.
    const snapshot = async () => Promise.all((await redis.keys(`${prefix}:*`)).sort().map(async (key) => [key, await redis.type(key), await redis.memory('USAGE', key)]));
    const before = await snapshot();
    for (const api of [app, closed]) {
      for (const { name, request } of writes) {
        const response = await api.inject({ ...request, headers: { ...('headers' in request ? request.headers : {}), origin: 'https://evil.example' } });
        expect(response.statusCode, name).toBe(403);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        const fix = api === app ? 'add https://evil.example to CORS_ORIGINS' : 'set CORS_ORIGINS=https://evil.example';
        expect(response.json(), name).toMatchObject({ type: '/problems/cross-origin-refused', detail: expect.stringContaining(fix) });
        expect(corsHeaders(response.headers)).toEqual([]);
      }
    }
    expect(await snapshot()).toEqual(before);
    redis.disconnect();
  });

  test('a page whose origin is null is told what that means and how to allow it, not to list null (refused at start)', async ({ app, closed }) => {
    for (const api of [app, closed]) {
      const write = await api.inject({ method: 'POST', url: '/jobs', headers: { origin: 'null' }, payload: { model: 'echo', prompt: 'x' } });
      const preflight = await api.inject({ method: 'OPTIONS', url: '/jobs', headers: { origin: 'null', 'access-control-request-method': 'POST' } });
      for (const response of [write, preflight]) {
        expect(response.statusCode).toBe(403);
        const { type, detail } = response.json();
        expect(type).toBe('/problems/cross-origin-refused');
        expect(detail).toContain('whose origin is null');
        expect(detail).toContain('file://');
        expect(detail).toContain('sandboxed iframe');
        expect(detail).toContain('cannot be allowed by name');
        expect(detail).toContain('CORS_ORIGINS=*');
        expect(detail).not.toMatch(/add null|CORS_ORIGINS=null/);
      }
    }
    expect(() => apiEnvSchema.shape.CORS_ORIGINS.parse('null')).toThrow(/must be \* or origins/);
  });

  test('CORS_ORIGINS=*, which the refusal of Origin: null suggests, lets such a page write and read the answer', async ({ redisUrl, prefix }) => {
    const any = await buildTestApp(redisUrl, prefix, { CORS_ORIGINS: '*' });
    try {
      const preflight = await any.inject({ method: 'OPTIONS', url: '/jobs', headers: { origin: 'null', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('*');
      const write = await any.inject({ method: 'POST', url: '/jobs', headers: { origin: 'null' }, payload: { model: 'echo', prompt: 'x' } });
      expect(write.statusCode).toBe(202);
      expect(write.headers['access-control-allow-origin']).toBe('*');
    } finally {
      await any.close();
    }
  });

  test('a listed origin, the API\'s own pages and clients that send no Origin go on', async ({ app, closed }) => {
    const listed = await app.inject({ method: 'POST', url: '/jobs', headers: { origin: frontend }, payload: { model: 'echo' } });
    expect(listed.statusCode).toBe(202);
    for (const api of [app, closed]) {
      // inject sends Host: localhost:80; the dashboard's own requests carry its origin.
      const own = await api.inject({ method: 'POST', url: '/jobs', headers: { origin: 'http://localhost' }, payload: { model: 'echo' } });
      expect(own.statusCode).toBe(202);
      const curl = await api.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } });
      expect(curl.statusCode).toBe(202);
    }
  });
});

describe('answers Fastify gives before routing', () => {
  test('a path segment too long, or one that cannot be decoded, is a problem the page can read', async ({ app }) => {
    for (const url of [`/jobs/inference:${'A'.repeat(120)}`, '/jobs/%E0%A4%A']) {
      const response = await app.inject({ method: 'GET', url, headers: { origin: frontend } });
      expect([400, 414], url).toContain(response.statusCode);
      expect(response.headers['access-control-allow-origin'], url).toBe(frontend);
      expect(response.headers['vary'], url).toBe('Origin');
    }
    const other = await app.inject({ method: 'GET', url: `/jobs/inference:${'A'.repeat(120)}`, headers: { origin: 'https://evil.example' } });
    expect(corsHeaders(other.headers)).toEqual([]);
  });

  test('the page can read Allow of a 405', async ({ app }) => {
    const response = await app.inject({ method: 'POST', url: '/queues', headers: { origin: frontend } });
    expect(response.statusCode).toBe(405);
    expect(String(response.headers['access-control-expose-headers'])).toContain('allow');
  });

  test("the page can read a 415's Accept-Encoding and a 401's WWW-Authenticate", async ({ app }) => {
    const response = await app.inject({ method: 'POST', url: '/jobs', headers: { origin: frontend, 'content-type': 'application/json', 'content-encoding': 'compress' }, payload: '{}' });
    expect(response.statusCode).toBe(415);
    expect(response.headers['accept-encoding']).toBeDefined();
    expect(String(response.headers['access-control-expose-headers']).split(/,\s*/)).toEqual(expect.arrayContaining(['accept-encoding', 'www-authenticate']));
  });
});
