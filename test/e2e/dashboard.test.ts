import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, RedisServer, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apiJobs } from './api-jobs.js';

/**
 * The dashboard in a real browser (Debian's `chromium`, driven by playwright-core) against the
 * API and a worker: it must render every queue from GET /queues, follow the event streams live,
 * and run under its content security policy without a single error in the page.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'dashboard-admin-token-0123456789';
const prefix = uniquePrefix('dashboard');
let api: ApiProcess;
let worker: WorkerProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
// A Redis of its own: a test closes every pub/sub connection on it, which would reach the APIs and
// workers of the test files that run beside this one on the shared Redis.
let server: RedisServer;
let redisUrl: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  server = await RedisServer.start();
  redisUrl = server.url;
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix, env: { ADMIN_TOKEN: TOKEN } }), startWorker({ redisUrl, prefix, env: { MAINTENANCE_INTERVAL: '200ms' } })]);
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
  await server?.stop();
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

  test('each button is named for the queue or stage it acts on, and the status line is announced', async () => {
    // The names as Chromium's accessibility tree gives them to screen readers.
    const cdp = await page.context().newCDPSession(page);
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: { role?: { value: string }; name?: { value: string } }[] };
    await cdp.detach();
    expect(nodes.flatMap((node) => (node.role?.value === 'button' ? [node.name?.value] : [])).sort()).toEqual([
      'pause document-summary',
      'pause document-summary stage extract',
      'pause document-summary stage summarize',
      'pause documents',
      'pause documents stage analyze',
      'pause documents stage embed',
      'pause documents stage extract',
      'pause documents stage summarize',
      'pause inference',
      'pause inference stage infer',
    ]);
    expect(await page.locator('section[data-queue="documents"] tr[data-stage="extract"] button').textContent()).toBe('pause');
    expect(await page.locator('#status').evaluate((node) => [node.getAttribute('role'), node.getAttribute('aria-live')])).toEqual(['status', 'polite']);
  });

  test('a job appears in the live feed as it runs, and the stage counts follow', async () => {
    const before = Number(await cellText('inference', 'infer', 'completed'));
    const { job_id: jobId } = (await (await post({ model: 'echo', prompt: 'shown live', params: { sleep_ms: 300 } })).json()) as { job_id: string };
    await page.locator(`#feed tr.event-active[data-job="${jobId}"]`).waitFor();
    await page.locator(`#feed tr.event-completed[data-job="${jobId}"]`).waitFor();
    expect(await page.locator(`#feed tr.event-completed[data-job="${jobId}"] a`).getAttribute('href')).toBe(`/jobs/${encodeURIComponent(jobId)}`);
    await waitFor(async () => Number(await cellText('inference', 'infer', 'completed')) === before + 1, 'the completed count to go up');
  });

  test('three tabs of one browser all stay live and read the queues: with a stream per queue, two took the six connections a browser keeps to a host, froze, and a third never loaded', { timeout: 60_000 }, async () => {
    // One context: its tabs share the browser's connections to the host, as a person's tabs do.
    const context = await browser.newContext();
    const tabs = [await context.newPage(), await context.newPage(), await context.newPage()];
    try {
      for (const tab of tabs) await tab.goto(`${api.url}/dashboard`);
      for (const tab of tabs) await tab.locator('#feed-state', { hasText: '(live)' }).waitFor();
      const { job_id: jobId } = (await (await post({ model: 'echo', prompt: 'seen in every tab' })).json()) as { job_id: string };
      for (const tab of tabs) await tab.locator(`#feed tr.event-completed[data-job="${jobId}"]`).waitFor();
      // And each keeps reading the queues (the reads were the requests left waiting).
      const read = await Promise.all(tabs.map((tab) => tab.locator('#updated').textContent()));
      await waitFor(async () => (await Promise.all(tabs.map((tab) => tab.locator('#updated').textContent()))).every((text, i) => text !== read[i]), 'every tab to read the queues again', 15_000);
    } finally {
      await context.close();
    }
  });

  test('when the API loses its Redis subscription for a moment, the feed says events may have been missed (it said "(live)" throughout)', async () => {
    const redis = createRedis(redisUrl, { role: 'command', name: 'dashboard-test' });
    try {
      await page.locator('#feed-state', { hasText: '(live)' }).waitFor();
      await redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await page.locator('#feed-state', { hasText: '(live) · events may have been missed a moment ago' }).waitFor({ timeout: 10_000 });
    } finally {
      redis.disconnect();
    }
  });

  test('the status line is not read out on every refresh, and a narrow screen scrolls the tables, not the page', async () => {
    // A live region whose text changed every 5 s ("updated 12:00:05") was announced every 5 s.
    const status = await page.locator('#status').textContent();
    const updated = await page.locator('#updated').textContent();
    await waitFor(async () => (await page.locator('#updated').textContent()) !== updated, 'a refresh', 15_000);
    expect(await page.locator('#status').textContent()).toBe(status);
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    } finally {
      await page.setViewportSize({ width: 1280, height: 720 });
    }
  });

  test('a dead-lettered job shows as dead, its failures are marked, and its button queues it again', async () => {
    const failUntil = Date.now() + 1_000;
    const { job_id: jobId } = (await (await post({ model: 'echo', prompt: 'fails for a second', max_attempts: 1, params: { fail_until: new Date(failUntil).toISOString() } })).json()) as { job_id: string };
    await page.locator(`#feed tr.event-dead[data-job="${jobId}"]`).waitFor();
    await waitFor(async () => (await page.locator('section[data-queue="inference"] tr[data-stage="infer"] td[data-field="failed"].attention').count()) === 1, 'the failed count to be marked');
    await waitFor(async () => /dead letters 1(?!\d)/.test((await page.locator('section[data-queue="inference"] .summary').textContent()) ?? ''), 'the dead-letter count');
    // The count leads to the dead letters with their errors; the feed's failed row says what went wrong.
    expect(await page.locator('section[data-queue="inference"] .summary a', { hasText: 'dead letters 1' }).getAttribute('href')).toBe('/queues/inference/dead');
    expect(await page.locator(`#feed tr.event-failed[data-job="${jobId}"] td[data-field="detail"]`).textContent()).toMatch(/^PROCESSOR_ERROR: echo is down until /);
    await new Promise((resolve) => setTimeout(resolve, failUntil - Date.now()));
    // Retrying asks first: dismissed, nothing is retried.
    const asked: string[] = [];
    page.once('dialog', (dialog) => void (asked.push(dialog.message()), dialog.dismiss()));
    await page.getByRole('button', { name: 'retry dead letters of inference', exact: true }).click();
    await waitFor(() => asked.length === 1, 'the confirmation');
    expect(asked[0]).toBe('Queue again the 1 dead-lettered job(s) of inference? Their errors are listed at /queues/inference/dead (the dead letters link).');
    expect(((await (await fetch(`${api.url}/queues/inference/dead`)).json()) as { jobs: unknown[] }).jobs).toHaveLength(1);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'retry dead letters of inference', exact: true }).click();
    await page.locator('#status.done', { hasText: 'inference: 1 dead-lettered job(s) queued again' }).waitFor();
    await page.locator(`#feed tr.event-completed[data-job="${jobId}"]`).waitFor();
  });

  test('pause and resume need the admin token; with it a paused stage holds its jobs until resumed', async () => {
    const stageButton = () => page.locator('section[data-queue="inference"] tr[data-stage="infer"] button');
    await stageButton().click();
    await page.locator('#status.error', { hasText: 'Type the admin token (the ADMIN_TOKEN the API was started with) to pause and resume.' }).waitFor();
    await page.fill('#token', 'not-the-admin-token');
    await page.dispatchEvent('#token', 'change');
    await stageButton().click();
    await page.locator('#status.error', { hasText: 'The API refused the admin token typed in' }).waitFor();
    // The browser logs the refused requests itself; nothing else went wrong so far.
    expect(pageErrors.splice(0)).toEqual([expect.stringContaining('status of 401'), expect.stringContaining('status of 401')]);

    await page.fill('#token', TOKEN);
    await page.dispatchEvent('#token', 'change');
    await stageButton().click();
    await page.locator('#status.done', { hasText: 'inference infer paused' }).waitFor();
    await waitFor(async () => (await cellText('inference', 'infer', 'name')) === 'infer (paused)', 'the stage to show as paused');
    // Workers hear of a pause within a second.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const { job_id: jobId } = (await (await post({ model: 'echo', prompt: 'held by the pause' })).json()) as { job_id: string };
    await waitFor(async () => (await cellText('inference', 'infer', 'waiting')) === '1', 'the job to wait at the paused stage');
    expect(await page.locator(`#feed tr.event-active[data-job="${jobId}"]`).count()).toBe(0);
    await page.locator('section[data-queue="inference"] tr[data-stage="infer"] button', { hasText: 'resume' }).click();
    await page.locator(`#feed tr.event-completed[data-job="${jobId}"]`).waitFor();
    await waitFor(async () => (await cellText('inference', 'infer', 'name')) === 'infer', 'the stage to show as running');
    expect(pageErrors).toEqual([]);
  });

  test('a focused button keeps the focus as the page redraws, so the keyboard can pause and resume', async () => {
    const stageButton = page.locator('section[data-queue="inference"] tr[data-stage="infer"] button');
    const focusedName = async () => (await page.locator(':focus').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('aria-label')))).join();
    const first = await stageButton.elementHandle();
    await stageButton.focus();
    await page.keyboard.press('Enter');
    await waitFor(async () => (await cellText('inference', 'infer', 'name')) === 'infer (paused)', 'the stage to show as paused');
    // The page is patched in place: the same button, now saying resume, keeps the focus.
    expect(await first?.evaluate((node) => node.isConnected)).toBe(true);
    expect(await focusedName()).toBe('resume inference stage infer');

    await page.keyboard.press('Enter');
    await waitFor(async () => (await cellText('inference', 'infer', 'name')) === 'infer', 'the stage to show as running');
    expect(await focusedName()).toBe('pause inference stage infer');
    // And through reads with nothing done: the 5 s refresh, or one after an event.
    const updated = await page.locator('#updated').textContent();
    await post({ model: 'echo', prompt: 'reads the queues again' });
    await waitFor(async () => (await page.locator('#updated').textContent()) !== updated, 'the page to read the queues again', 15_000);
    expect(await first?.evaluate((node) => node.isConnected)).toBe(true);
    expect(await focusedName()).toBe('pause inference stage infer');
    expect(pageErrors).toEqual([]);
  });

  test('the queue-level pause and resume keep the focus and the feed live (the redraw moved the button, and finding its queue threw: "(not live)" and the focus on <body>)', async () => {
    const focusedName = () => page.evaluate('document.activeElement && document.activeElement.getAttribute("aria-label")');
    const badge = page.locator('section[data-queue="inference"] h2 .badge');
    await page.fill('#token', TOKEN);
    await page.dispatchEvent('#token', 'change');
    await page.locator('#feed-state', { hasText: '(live)' }).waitFor();
    // Every text the feed's heading takes, however briefly, and the page's unhandled rejections
    // (an error the refresh catches itself reaches neither: it shows as "(not live)").
    await page.evaluate(`(() => {
      window.feedStates = [];
      window.rejections = [];
      window.addEventListener('unhandledrejection', (event) => window.rejections.push(String(event.reason)));
      new MutationObserver(() => window.feedStates.push(document.getElementById('feed-state').textContent))
        .observe(document.getElementById('feed-state'), { childList: true, characterData: true, subtree: true });
    })()`);
    const notLive = async () => ((await page.evaluate('window.feedStates')) as string[]).filter((text) => text.includes('not live'));

    try {
      const queueButton = page.getByRole('button', { name: 'pause inference', exact: true });
      const first = await queueButton.elementHandle();
      await queueButton.click();
      await page.locator('#status.done', { hasText: 'inference paused' }).waitFor();
      await badge.filter({ hasText: /^paused$/ }).waitFor();
      // The stage buttons go while the whole queue is paused; the queue's own button stays, saying resume.
      await waitFor(async () => (await page.locator('section[data-queue="inference"] tr[data-stage="infer"] button').count()) === 0, 'the stage button to go');
      // Each said apart (soft): the redraw threw, which showed as both.
      expect.soft(await notLive()).toEqual([]);
      expect.soft(await focusedName()).toBe('resume inference');
      expect.soft(await first?.evaluate((node) => node.isConnected)).toBe(true);
      expect(await page.locator('#feed-state').textContent()).toMatch(/^\(live\)/);

      await page.getByRole('button', { name: 'resume inference', exact: true }).click();
      await page.locator('#status.done', { hasText: 'inference resumed' }).waitFor();
      await waitFor(async () => (await badge.count()) === 0, 'the queue to show as running');
      await page.locator('section[data-queue="inference"] tr[data-stage="infer"] button').waitFor();
      expect(await focusedName()).toBe('pause inference');
      expect(await first?.evaluate((node) => node.isConnected)).toBe(true);
      expect(await page.locator('#feed-state').textContent()).toMatch(/^\(live\)/);

      // A focused stage button the redraw removes (someone else paused the whole queue) hands the
      // focus to its queue's first button.
      await page.getByRole('button', { name: 'pause inference stage infer', exact: true }).focus();
      const paused = await fetch(`${api.url}/queues/inference/pause`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: '{}' });
      expect(paused.status).toBe(200);
      await badge.filter({ hasText: /^paused$/ }).waitFor({ timeout: 10_000 });
      await waitFor(async () => (await focusedName()) === 'resume inference', 'the focus to go to the queue button', 10_000);
      await page.keyboard.press('Enter');
      await waitFor(async () => (await badge.count()) === 0, 'the queue to show as running');
      await page.locator('section[data-queue="inference"] tr[data-stage="infer"] button').waitFor();
      expect(await focusedName()).toBe('pause inference');
    } finally {
      // The tests after this one want the queue running.
      await fetch(`${api.url}/queues/inference/resume`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: '{}' });
    }
    expect(await notLive()).toEqual([]);
    expect(await page.evaluate('window.rejections')).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  test('a button pressed while the page reads the queues again and again (events under load) acts on every click, and a table scrolled sideways stays scrolled', { timeout: 60_000 }, async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      const box = page.locator('section[data-queue="documents"] .scroll').first();
      const stageButton = page.getByRole('button', { name: /^(pause|resume) documents stage embed$/ });
      // A read after each event: a batch of slow jobs keeps the page reading.
      const jobs = Array.from({ length: 200 }, (_, i) => ({ model: 'echo', prompt: `busy ${i}`, params: { sleep_ms: 20 } }));
      expect((await fetch(`${api.url}/jobs/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jobs }) })).status).toBe(202);
      await page.locator('#token').fill(TOKEN);
      await page.locator('#token').dispatchEvent('change');
      let posts = 0;
      const counted = (request: { url: () => string; method: () => string }) => {
        if (request.method() === 'POST' && /\/queues\/documents\/(pause|resume)$/.test(request.url())) posts += 1;
      };
      page.on('request', counted);
      for (let i = 0; i < 10; i++) {
        // A real press and release, 120 ms apart: a button replaced in between took no click.
        // (It is in the last column: the table scrolls sideways to show it.)
        await stageButton.scrollIntoViewIfNeeded();
        const area = (await stageButton.boundingBox())!;
        await page.mouse.move(area.x + area.width / 2, area.y + area.height / 2);
        await page.mouse.down();
        await new Promise((resolve) => setTimeout(resolve, 120));
        await page.mouse.up();
        await waitFor(async () => posts === i + 1, `click ${i + 1} to be sent`, 5_000);
        await waitFor(async () => (await cellText('documents', 'embed', 'name')) === (i % 2 === 0 ? 'embed (paused)' : 'embed'), 'the stage to follow the click', 10_000);
      }
      page.off('request', counted);
      const scrolled = await box.evaluate((node) => node.scrollLeft);
      expect(scrolled).toBeGreaterThan(0);
      const updated = await page.locator('#updated').textContent();
      await waitFor(async () => (await page.locator('#updated').textContent()) !== updated, 'the page to read the queues again', 15_000);
      expect(await box.evaluate((node) => node.scrollLeft)).toBe(scrolled);
    } finally {
      await page.setViewportSize({ width: 1280, height: 720 });
    }
    expect(pageErrors).toEqual([]);
  });
});

describe('the live feed', () => {
  test('keeps the row whose job link has the focus when newer events push the oldest rows out', async () => {
    await page.goto(`${api.url}/dashboard`);
    await page.locator('#feed-state', { hasText: '(live)' }).waitFor();
    const jobId = ((await (await post({ model: 'echo', prompt: 'focused in the feed' })).json()) as { job_id: string }).job_id;
    const link = page.locator(`#feed tr.event-completed[data-job="${jobId}"] a`);
    await link.waitFor();
    await link.focus();
    // More than the feed's 100 rows of events: 40 jobs, each queued, active and completed.
    const jobs = Array.from({ length: 40 }, (_, i) => ({ model: 'echo', prompt: `push ${i}` }));
    const batch = await fetch(`${api.url}/jobs/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jobs }) });
    expect(batch.status).toBe(202);
    await waitFor(async () => (await page.locator(`#feed tr[data-job="${jobId}"]`).count()) === 1, 'the other rows of the focused job to be pushed out', 20_000);
    expect(await page.locator('#feed tr[data-job]').count()).toBe(100);
    expect(await page.locator(':focus').getAttribute('href')).toBe(`/jobs/${encodeURIComponent(jobId)}`);
    expect(pageErrors).toEqual([]);
  });
});

describe('what the page shows', () => {
  test('an event anyone could PUBLISH, with an object for a stage, a time that is no number and a 3,000-character job ID, shows as text without an error', async () => {
    const publisher = createRedis(redisUrl, { role: 'command', name: 'dashboard-forged-event' });
    try {
      const jobId = `inference:${'x'.repeat(3_000)}`;
      await publisher.publish(`${prefix}:{inference}:events`, JSON.stringify({ event: 'failed', job_id: jobId, at: 'soon', stage: { toString: 1 } }));
      const row = page.locator('#feed tr.event-failed').filter({ has: page.locator(`a[href="/jobs/${encodeURIComponent(jobId)}"]`) });
      await row.waitFor();
      expect((await row.locator('a').textContent())!.length).toBe(120);
      expect(await row.locator('td').last().textContent()).toBe('');
    } finally {
      publisher.disconnect();
    }
    expect(pageErrors).toEqual([]);
  });

  test('its text colours are readable on its background (WCAG AA: 4.5:1 or more)', async () => {
    // Run in the page (a script as text: the tests are not compiled with the DOM's types).
    const ratios = (await page.evaluate(`(() => {
      const luminance = (color) => {
        const [r, g, b] = color.match(/[\\d.]+/g).slice(0, 3).map((part) => {
          const channel = Number(part) / 255;
          return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const background = getComputedStyle(document.body).backgroundColor;
      const base = luminance(background === 'rgba(0, 0, 0, 0)' ? 'rgb(255, 255, 255)' : background);
      return Object.fromEntries(['--muted', '--bad', '--good'].map((name) => {
        const probe = document.createElement('span');
        probe.style.color = 'var(' + name + ')';
        document.body.appendChild(probe);
        const shade = luminance(getComputedStyle(probe).color);
        probe.remove();
        return [name, (Math.max(base, shade) + 0.05) / (Math.min(base, shade) + 0.05)];
      }));
    })()`)) as Record<string, number>;
    for (const [name, ratio] of Object.entries(ratios)) expect(ratio, name).toBeGreaterThanOrEqual(4.5);
  });
});

describe('the dashboard of an API started without ADMIN_TOKEN', () => {
  test('without ADMIN_TOKEN, pause and resume are off from the start and say why (they were on until a click was refused)', async () => {
    const local = { api: undefined as ApiProcess | undefined };
    const tab = await browser.newPage();
    try {
      local.api = await startApi({ redisUrl, prefix });
      await tab.goto(`${local.api.url}/dashboard`);
      const pause = tab.getByRole('button', { name: 'pause inference stage infer', exact: true });
      await pause.waitFor();
      expect(await pause.isDisabled()).toBe(true);
      expect(await pause.getAttribute('title')).toBe('Pause and resume are off: the API was started without ADMIN_TOKEN.');
      expect(await tab.locator('#token').isDisabled()).toBe(true);
      expect(await tab.locator('#token').getAttribute('placeholder')).toBe('pause and resume are off (no ADMIN_TOKEN)');
      // In the page too, where the keyboard and screen readers find it.
      expect(await tab.locator('#admin-note').textContent()).toBe('Pause and resume are off: the API was started without ADMIN_TOKEN.');
      // Retrying dead letters needs no token, and stays on.
      expect(await tab.locator('button[disabled]').count()).toBe(await tab.locator('button[data-control^="pause "]').count());
    } finally {
      await tab.close();
      await local.api?.stop();
    }
  });
});

describe('the dashboard while Redis is away', () => {
  test('opened with Redis down it says so, and once Redis is back it reads the queues and follows events', { timeout: 60_000 }, async () => {
    const server = await RedisServer.start();
    const local = { api: undefined as ApiProcess | undefined, worker: undefined as WorkerProcess | undefined };
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    try {
      [local.api, local.worker] = await Promise.all([startApi({ redisUrl: server.url, prefix: 'conveyor' }), startWorker({ redisUrl: server.url, prefix: 'conveyor' })]);
      await server.kill('SIGKILL');
      await tab.goto(`${local.api.url}/dashboard`);
      // The problem's own detail, not only its status.
      await tab.locator('#status.error', { hasText: 'cannot read the queues: Redis is unreachable' }).waitFor();
      expect(await tab.locator('#feed-state').textContent()).toBe('(not live)');

      await server.restart();
      await tab.locator('section[data-queue="inference"]').waitFor({ timeout: 20_000 });
      await tab.locator('#feed-state', { hasText: '(live)' }).waitFor({ timeout: 20_000 });
      const response = await fetch(`${local.api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"after the outage"}' });
      const { job_id: jobId } = (await response.json()) as { job_id: string };
      await tab.locator(`#feed tr.event-completed[data-job="${jobId}"]`).waitFor({ timeout: 20_000 });

      // Redis goes away under a live page: the event streams stay open, but nothing comes through them.
      await server.kill('SIGKILL');
      await tab.locator('#status.error', { hasText: 'cannot read the queues: Redis is unreachable' }).waitFor({ timeout: 10_000 });
      await tab.locator('#feed-state', { hasText: '(not live)' }).waitFor();
      await server.restart();
      await tab.locator('#feed-state', { hasText: '(live)' }).waitFor({ timeout: 20_000 });
      expect(errors).toEqual([]);
    } finally {
      await tab.close();
      await Promise.all([local.api?.stop(), local.worker?.stop()]);
      await server.stop();
    }
  });
});

describe('an event stream the API refuses', () => {
  test('is opened again every few seconds until the API takes it', { timeout: 60_000 }, async () => {
    // The API's Redis user may not subscribe to the inference events channel: that stream is
    // refused (503), which a browser's EventSource does not retry on its own.
    const server = await RedisServer.start();
    const root = new Redis(server.url);
    const local = { api: undefined as ApiProcess | undefined, worker: undefined as WorkerProcess | undefined };
    const tab = await browser.newPage();
    try {
      await root.call('ACL', 'SETUSER', 'dashboard', 'on', '>secret-secret', '~conveyor:*', 'resetchannels', '&conveyor:{documents}:events', '&conveyor:{document-summary}:events', '+@all', '-@dangerous', '+info');
      const apiUrl = server.url.replace('redis://', 'redis://dashboard:secret-secret@');
      [local.api, local.worker] = await Promise.all([startApi({ redisUrl: apiUrl, prefix: 'conveyor' }), startWorker({ redisUrl: server.url, prefix: 'conveyor' })]);
      const refused = await fetch(`${local.api.url}/events?queue=inference`);
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { detail: string }).detail).toMatch(/NOPERM|subscription/);

      await tab.goto(`${local.api.url}/dashboard`);
      await tab.locator('#feed-state', { hasText: '(not live: connecting)' }).waitFor();
      await root.call('ACL', 'SETUSER', 'dashboard', '&conveyor:{inference}:events');
      await tab.locator('#feed-state', { hasText: '(live)' }).waitFor({ timeout: 10_000 });
      const response = await fetch(`${local.api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"now watched"}' });
      const { job_id: jobId } = (await response.json()) as { job_id: string };
      await tab.locator(`#feed tr.event-completed[data-job="${jobId}"]`).waitFor();
    } finally {
      await tab.close();
      await Promise.all([local.api?.stop(), local.worker?.stop()]);
      root.disconnect();
      await server.stop();
    }
  });
});

describe('a partitioned queue', () => {
  test('shows each partition under the sums, and marks one whose jobs wait with no worker reading it', { timeout: 60_000 }, async () => {
    const partitioned = uniquePrefix('dashboard-partitions');
    const env = { QUEUE_PARTITIONS: 'inference=2' };
    const local = { api: undefined as ApiProcess | undefined, worker: undefined as WorkerProcess | undefined };
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    try {
      // The worker reads partition 0 only: the jobs the API puts on partition 1 wait.
      [local.api, local.worker] = await Promise.all([startApi({ redisUrl, prefix: partitioned, env }), startWorker({ redisUrl, prefix: partitioned, env: { ...env, WORKER_STAGES: 'inference.0' } })]);
      const { url } = local.api;
      const { post: postTo } = apiJobs(() => url);
      const ids: string[] = [];
      for (let i = 0; i < 4; i += 1) ids.push(((await (await postTo('/jobs', { model: 'echo', prompt: `job ${i}` })).json()) as { job_id: string }).job_id);
      expect(ids.map((id) => id.split(':')[0]).sort()).toEqual(['inference.0', 'inference.0', 'inference.1', 'inference.1']);

      // A consumer a dead worker left in partition 1's group (it stays there for CONSUMER_RETENTION)
      // reads nothing: the partition is still marked.
      const redis = createRedis(redisUrl, { role: 'command', name: 'dashboard-test' });
      await redis.xgroup('CREATECONSUMER', new QueueKeys(partitioned, 'inference.1').stream('infer', 'normal'), 'infer', 'gone-worker');
      redis.disconnect();
      await tab.goto(`${url}/dashboard`);
      const partitionCell = (partition: string) => tab.locator(`section[data-queue="inference"] table.partitions tr[data-partition="${partition}"] td[data-field="infer"]`);
      await waitFor(async () => (await partitionCell('inference.1').textContent()) === '2 · 0 · 0 (+1 gone) · nobody reading', 'partition 1 to show its 2 waiting jobs and no live consumer, in words');
      await waitFor(async () => (await partitionCell('inference.0').textContent()) === '0 · 0 · 1', 'partition 0 to show its jobs done and its consumer');
      expect(await partitionCell('inference.1').getAttribute('class')).toBe('attention');
      expect(await partitionCell('inference.0').getAttribute('class')).toBeNull();
      expect(await tab.locator('section[data-queue="inference"] table.partitions tr[data-partition]').evaluateAll((rows) => rows.map((row) => row.firstElementChild?.textContent))).toEqual([
        'inference (own streams)',
        'inference.0',
        'inference.1',
      ]);
      // The stage table above sums them; an unpartitioned queue has no partition table.
      expect(await tab.locator('section[data-queue="inference"] tr[data-stage="infer"] td[data-field="waiting"]').textContent()).toBe('2');
      expect(await tab.locator('section[data-queue="inference"] tr[data-stage="infer"] td[data-field="consumers"]').textContent()).toBe('1 (+1 gone)');
      expect(await tab.locator('section[data-queue="documents"] table.partitions').count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await tab.close();
      await Promise.all([local.api?.stop(), local.worker?.stop()]);
      const redis = createRedis(redisUrl, { role: 'command', name: 'cleanup' });
      await deletePrefix(redis, partitioned);
      redis.disconnect();
    }
  });
});
