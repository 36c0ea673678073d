import { expect } from 'vitest';
import { testWithApp } from './test-app.js';

const ADMIN_TOKEN = 'queue-control-test-token';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

const test = testWithApp({ ADMIN_TOKEN });

test('pause and resume refuse a query parameter, naming it and saying the stage goes in the body, and change nothing', async ({ app }) => {
  for (const action of ['pause', 'resume']) {
    for (const payload of [{ stage: 'embed' }, undefined]) {
      const refused = await app.inject({ method: 'POST', url: `/queues/documents/${action}?stage=x`, headers: admin, ...(payload ? { payload } : {}) });
      expect(refused.statusCode, action).toBe(400);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.json(), action).toMatchObject({
        type: '/problems/invalid-request',
        detail: 'querystring: takes no parameters (got stage): pass the stage in the JSON body, e.g. {"stage":"embed"}, or send no body for the whole queue',
      });
    }
  }
  const several = await app.inject({ method: 'POST', url: '/queues/documents/pause?stage=embed&queue=documents', headers: admin });
  expect(several.json().detail).toContain('(got stage, queue)');
  // Nothing was paused by the refused requests.
  expect(await app.redis.exists(app.jobs.keysOf('documents').paused)).toBe(0);
  const paused = await app.inject({ method: 'POST', url: '/queues/documents/pause', headers: admin, payload: { stage: 'embed' } });
  expect(paused.statusCode).toBe(200);
  expect(paused.json()).toEqual({ queue: 'documents', paused: ['embed'] });
  const resumed = await app.inject({ method: 'POST', url: '/queues/documents/resume', headers: admin, payload: { stage: 'embed' } });
  expect(resumed.json()).toEqual({ queue: 'documents', paused: [] });
});

test('a stage the queue does not have is a 400 naming the field and the stages it has; nothing is paused', async ({ app }) => {
  const refused = await app.inject({ method: 'POST', url: '/queues/documents/pause', headers: admin, payload: { stage: 'nope' } });
  expect(refused.statusCode).toBe(400);
  expect(refused.json()).toMatchObject({
    detail: 'Queue "documents" has no stage "nope"; its stages: extract, analyze, summarize, embed.',
    errors: [{ path: 'body.stage', message: 'is not a stage of queue "documents"; its stages: extract, analyze, summarize, embed' }],
  });
  expect(await app.redis.exists(app.jobs.keysOf('documents').paused)).toBe(0);
});

test('a missing, malformed or wrong admin token is a 401 that says which (a wrong token was told to send one)', async ({ app }) => {
  for (const [authorization, detail, challenge] of [
    [undefined, 'This is an admin endpoint: send Authorization: Bearer <ADMIN_TOKEN>.', 'Bearer realm="conveyor-admin"'],
    ['', 'This is an admin endpoint: send Authorization: Bearer <ADMIN_TOKEN>.', 'Bearer realm="conveyor-admin"'],
    // RFC 6750 §3.1: no error code for another scheme, invalid_request for a bearer without a token.
    [`Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`, 'This is an admin endpoint, and its Authorization header is not a bearer token: send Authorization: Bearer <ADMIN_TOKEN>.', 'Bearer realm="conveyor-admin"'],
    ['Bearer ', 'The Authorization header holds no token after Bearer: send Authorization: Bearer <ADMIN_TOKEN>.', 'Bearer realm="conveyor-admin", error="invalid_request"'],
    ['Bearer wrong-token-of-some-length', "The bearer token sent is not this API's ADMIN_TOKEN: send Authorization: Bearer <ADMIN_TOKEN>, with the value the API was started with.", 'Bearer realm="conveyor-admin", error="invalid_token"'],
  ] as const) {
    const response = await app.inject({ method: 'POST', url: '/queues/documents/pause', headers: authorization === undefined ? {} : { authorization }, payload: {} });
    expect(response.statusCode, authorization).toBe(401);
    expect(response.json(), authorization).toMatchObject({ type: '/problems/unauthorized', detail });
    expect(response.headers['www-authenticate'], authorization).toBe(challenge);
  }
  expect(await app.redis.exists(app.jobs.keysOf('documents').paused)).toBe(0);
});

test('/metrics says which stages are paused: one stage, then the whole queue, then none', async ({ app }) => {
  const pausedGauge = async () => {
    const text = (await app.inject({ url: '/metrics' })).body;
    return [...text.matchAll(/^conveyor_stage_paused\{queue="documents",stage="(\w+)"\} (\d)$/gm)].map(([, stage, value]) => `${stage}=${value}`);
  };
  expect(await pausedGauge()).toEqual(['extract=0', 'analyze=0', 'summarize=0', 'embed=0']);
  await app.inject({ method: 'POST', url: '/queues/documents/pause', headers: admin, payload: { stage: 'embed' } });
  expect(await pausedGauge()).toEqual(['extract=0', 'analyze=0', 'summarize=0', 'embed=1']);
  await app.inject({ method: 'POST', url: '/queues/documents/pause', headers: admin });
  expect(await pausedGauge()).toEqual(['extract=1', 'analyze=1', 'summarize=1', 'embed=1']);
  await app.inject({ method: 'POST', url: '/queues/documents/resume', headers: admin });
  expect(await pausedGauge()).toEqual(['extract=0', 'analyze=0', 'summarize=0', 'embed=0']);
});
