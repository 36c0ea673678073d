import { keysUnder, redisTest } from '@conveyor/testing';
import { connect, type AddressInfo } from 'node:net';
import { describe, expect } from 'vitest';
import type { App } from '../src/app.js';
import { buildTestApp } from './test-app.js';

const test = redisTest.extend<{ app: App; open: App }>({
  app: async ({ redisUrl, prefix }, use) => {
    const app = await buildTestApp(redisUrl, prefix, { ALLOWED_HOSTS: 'api.example.com, .corp.example' });
    await use(app);
    await app.close();
  },
  open: async ({ redisUrl, prefix }, use) => {
    const app = await buildTestApp(redisUrl, prefix);
    await use(app);
    await app.close();
  },
});

const job = { model: 'echo', prompt: 'hi' };

/** POST /jobs with these Host header lines (an empty one, several), which neither inject nor Node's client sends; the answer's problem. */
function postWithHostLines({ port }: AddressInfo, hostLines: string): Promise<Record<string, unknown>> {
  const body = JSON.stringify(job);
  return new Promise((resolve, reject) => {
    let answer = '';
    connect(port, '127.0.0.1')
      .on('error', reject)
      .on('data', (chunk) => (answer += chunk.toString('utf8')))
      .on('end', () => resolve(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>))
      .end(`POST /jobs HTTP/1.1\r\n${hostLines}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });
}

describe('ALLOWED_HOSTS', () => {
  test('a page on a name pointed at the API (DNS rebinding) is refused with a 421 problem, reads and writes alike, and nothing is stored', async ({ app, redis, prefix }) => {
    const before = await keysUnder(redis, prefix);
    for (const host of ['evil.example:3000', 'EVIL.example', 'evil.example.', 'api.example.com.evil.example', 'corp.example.evil', 'xcorp.example', 'api.example.com..']) {
      // The browser sends its page's own origin: to it, the page and the API are one origin.
      const write = await app.inject({ method: 'POST', url: '/jobs', headers: { host, origin: `http://${host}` }, payload: job });
      expect(write.statusCode, host).toBe(421);
      expect(write.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(write.json()).toMatchObject({ type: '/problems/host-not-allowed', status: 421, detail: expect.stringContaining('(ALLOWED_HOSTS)') });
      expect((await app.inject({ url: '/queues/inference', headers: { host } })).statusCode, host).toBe(421);
    }
    // An empty Host names no host: the 400 it is without ALLOWED_HOSTS, not a 421 for the name "".
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address() as AddressInfo;
    for (const hostLine of ['Host: \r\n', 'Host: :3000\r\n']) {
      expect(await postWithHostLines(address, hostLine), hostLine).toMatchObject({ status: 400, detail: expect.stringContaining('has a Host header without a host name') });
    }
    // Node keeps the first of two: a listed name first let the second through.
    expect(await postWithHostLines(address, 'Host: api.example.com\r\nHost: evil.example\r\n')).toMatchObject({ status: 400, detail: expect.stringContaining('has more than one Host header') });
    expect(await keysUnder(redis, prefix)).toEqual(before);
  });

  test('listed names (fully qualified with a final dot too), names under a listed .suffix, IP addresses and localhost are answered', async ({ app }) => {
    for (const host of ['api.example.com', 'API.example.com:8080', 'api.example.com.', 'api.example.com.:3000', 'a.corp.example', 'b.a.corp.example.', '127.0.0.1:3000', '10.1.2.3', '[::1]:3000', 'localhost:3000']) {
      expect((await app.inject({ method: 'POST', url: '/jobs', headers: { host }, payload: job })).statusCode, host).toBe(202);
    }
  });

  test('unset, any host is answered', async ({ open }) => {
    expect((await open.inject({ method: 'POST', url: '/jobs', headers: { host: 'evil.example' }, payload: job })).statusCode).toBe(202);
  });
});
