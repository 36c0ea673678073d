import { createRedis } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

/**
 * The dashboard in a real browser (Debian's `chromium`, driven by playwright-core) against the
 * API and a worker: it must render every queue from GET /queues, follow the event streams live,
 * and run under its content security policy without a single error in the page.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const prefix = uniquePrefix('dashboard');
let api: ApiProcess;
let worker: WorkerProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  const redisUrl = inject('redisUrl');
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix }), startWorker({ redisUrl, prefix })]);
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([api?.stop(), worker?.stop()]);
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const post = (body: unknown) => fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const cellText = (queue: string, stage: string, field: string) => page.locator(`section[data-queue="${queue}"] tr[data-stage="${stage}"] td[data-field="${field}"]`).textContent();

describe('the dashboard', () => {
  test('/ leads to it; it shows every queue and stage, with a consumer on each stage the worker serves', async () => {
    const response = await page.goto(`${api.url}/`);
    expect(response?.url()).toBe(`${api.url}/dashboard`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.locator('section[data-queue="documents"] tr[data-stage="embed"]').waitFor();
    expect(await page.locator('section[data-queue]').evaluateAll((sections) => sections.map((section) => section.getAttribute('data-queue')))).toEqual(['inference', 'documents', 'document-summary']);
    expect(await page.locator('section[data-queue="documents"] tr[data-stage]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-stage')))).toEqual(['extract', 'analyze', 'summarize', 'embed']);
    await waitFor(async () => (await cellText('inference', 'infer', 'consumers')) === '1', 'the worker to show as the stage consumer');
    await page.locator('#feed-state', { hasText: '(live)' }).waitFor();
  });

  test('a job appears in the live feed as it runs, and the stage counts follow', async () => {
    const before = Number(await cellText('inference', 'infer', 'completed'));
    const { job_id: jobId } = (await (await post({ model: 'echo', prompt: 'shown live', params: { sleep_ms: 300 } })).json()) as { job_id: string };
    await page.locator(`#feed tr.event-active[data-job="${jobId}"]`).waitFor();
    await page.locator(`#feed tr.event-completed[data-job="${jobId}"]`).waitFor();
    expect(await page.locator(`#feed tr.event-completed[data-job="${jobId}"] a`).getAttribute('href')).toBe(`/jobs/${encodeURIComponent(jobId)}`);
    await waitFor(async () => Number(await cellText('inference', 'infer', 'completed')) === before + 1, 'the completed count to go up');
  });

  test('a dead-lettered job shows as dead, its failures are marked, and the page logged no error', async () => {
    const { job_id: jobId } = (await (await post({ model: 'echo', prompt: 'fails', max_attempts: 1, params: { fail: 'always' } })).json()) as { job_id: string };
    await page.locator(`#feed tr.event-dead[data-job="${jobId}"]`).waitFor();
    await waitFor(async () => (await page.locator('section[data-queue="inference"] tr[data-stage="infer"] td[data-field="failed"].attention').count()) === 1, 'the failed count to be marked');
    await waitFor(async () => /dead letters 1\b/.test((await page.locator('section[data-queue="inference"] .summary').textContent()) ?? ''), 'the dead-letter count');
    expect(pageErrors).toEqual([]);
  });
});
