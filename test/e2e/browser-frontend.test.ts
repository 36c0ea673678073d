import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

/**
 * A frontend on another origin, in a real browser (Debian's `chromium`, driven by playwright-core):
 * the page's own server answers on 127.0.0.1 (listed in CORS_ORIGINS) and on localhost (the same
 * server under another origin, not listed). What the browser does on its own (reconnecting an
 * EventSource, sending a form upload without asking first) is what these tests are about.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const prefix = uniquePrefix('frontend');
let api: ApiProcess;
let worker: WorkerProcess;
let site: Server;
let listed: string;
let unlisted: string;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  site = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>frontend</title><p>frontend</p>'));
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  const { port } = site.address() as { port: number };
  listed = `http://127.0.0.1:${port}`;
  unlisted = `http://localhost:${port}`;
  const redisUrl = inject('redisUrl');
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix, env: { CORS_ORIGINS: listed } }), startWorker({ redisUrl, prefix })]);
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([api?.stop(), worker?.stop()]);
  site?.close();
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

async function pageOn(origin: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  return page;
}

describe('a frontend in a browser', () => {
  test("a job queued with a tracing header is followed by an EventSource, which stops once the job has ended instead of reconnecting every 3 s", async () => {
    const page = await pageOn(listed);
    const seen = await page.evaluate(async (apiUrl) => {
      // With the header a tracing SDK adds (the preflight refused it when the allowed headers were a fixed list).
      const headers = { 'content-type': 'application/json', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
      const created = await fetch(`${apiUrl}/jobs`, { method: 'POST', headers, body: JSON.stringify({ model: 'echo', prompt: 'hi', params: { sleep_ms: 300 } }) });
      const location = created.headers.get('location');
      const events: string[] = [];
      const source = new EventSource(new URL(`${location}/events`, apiUrl));
      for (const name of ['state', 'completed']) source.addEventListener(name, (event) => events.push(`${name}:${(event as MessageEvent).lastEventId}`));
      source.onerror = () => events.push(`error:${source.readyState}`);
      // Longer than the stream's `retry: 3000`: a browser that reconnects shows it by now.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const readyState = source.readyState;
      source.close();
      return { events, readyState };
    }, api.url);
    await page.close();
    // The stream ends after `completed`; the browser connects once more, gets 204 and closes
    // (readyState 0 while it reconnects, 2 once closed), with no second `state`.
    expect(seen.events).toEqual(['state:1', 'completed:end', 'error:0', 'error:2']);
    expect(seen.readyState).toBe(2);
  });

  test('a page on an origin not in CORS_ORIGINS cannot upload a document or queue a job, though the browser sends the request', async () => {
    const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'frontend-test' });
    const lanes = ['high', 'normal', 'low'].map((lane) => new QueueKeys(prefix, 'documents').stream('extract', lane as 'normal'));
    const entries = async () => (await Promise.all(lanes.map((lane) => redis.xlen(lane)))).reduce((sum, n) => sum + n, 0);
    const before = await entries();
    const refusedUploads = async () => {
      const metrics = await (await fetch(`${api.url}/metrics`)).text();
      return Number(/^conveyor_http_requests_total\{method="POST",route="\/documents",status="403"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    };
    const refusedBefore = await refusedUploads();
    const page = await pageOn(unlisted);
    const outcomes = await page.evaluate(async (apiUrl) => {
      const form = () => {
        const data = new FormData();
        data.append('file', new Blob(['an upload from another site'], { type: 'text/plain' }), 'x.txt');
        return data;
      };
      const attempt = (init: RequestInit) => fetch(`${apiUrl}/documents`, { method: 'POST', body: form(), ...init }).then((response) => `answered ${response.type}`, (error: Error) => `refused: ${error.message}`);
      // `no-cors` sends it for certain and gives the page an opaque answer; a plain fetch is what a page would do.
      return [await attempt({}), await attempt({ mode: 'no-cors' })];
    }, api.url);
    await page.close();
    expect(outcomes).toEqual(['refused: Failed to fetch', 'answered opaque']);
    expect(await entries()).toBe(before);
    // Both reached the API, which refused them.
    expect(await refusedUploads()).toBe(refusedBefore + 2);
    redis.disconnect();
  });
});
