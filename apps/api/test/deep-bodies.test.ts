import { MAX_PARAMS_DEPTH } from '@conveyor/shared';
import { keysUnder } from '@conveyor/testing';
import { describe, expect } from 'vitest';
import { jsonPastLimits, MAX_BODY_CONTAINERS, MAX_BODY_DEPTH, nestedDeeperThan } from '../src/services/json-depth.js';
import { testWithApp } from './test-app.js';

const test = testWithApp();

/** `levels` arrays, one inside the other. */
const brackets = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

const deeperThanBodies = `body: nests arrays and objects more than ${MAX_BODY_DEPTH} levels deep; params may nest at most ${MAX_PARAMS_DEPTH}`;

describe('a JSON body nested deeper than any Conveyor takes', () => {
  // JSON.parse took 1.5 s on a 1 MiB body of brackets and 13 s on a 16 MiB batch, holding every
  // other request meanwhile: such a body is refused before it is parsed.
  test('is refused unread, on a single job and deep inside a large batch, and nothing is written', async ({ app, redis, prefix }) => {
    const before = await keysUnder(redis, prefix);
    const single = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/json' }, payload: `{"model":"echo","params":{"x":${brackets(500_000)}}}` });
    expect(single.statusCode, single.body).toBe(400);
    expect(single.json()).toMatchObject({ type: '/problems/invalid-request', detail: `${deeperThanBodies}. Send a shallower body.`, errors: [{ path: 'body' }] });

    const jobs = Array.from({ length: 999 }, (_, i) => `{"model":"echo","prompt":"job ${i}"}`);
    jobs.splice(500, 0, `{"model":"echo","params":{"x":${brackets(4_000_000)}}}`);
    const batch = await app.inject({ method: 'POST', url: '/jobs/batch', headers: { 'content-type': 'application/json' }, payload: `{"jobs":[${jobs.join(',')}]}` });
    expect(batch.statusCode, batch.body.slice(0, 500)).toBe(400);
    expect(batch.json()).toMatchObject({ detail: `${deeperThanBodies}. Send a shallower body.` });
    expect(await keysUnder(redis, prefix)).toEqual(before);
  });

  test('a shallow body of more objects and arrays than any batch holds is refused unread too (16 MiB of {} held the API for 5 s)', async ({ app, redis, prefix }) => {
    const before = await keysUnder(redis, prefix);
    const payload = `{"jobs":[${Array(MAX_BODY_CONTAINERS).fill('{}').join(',')}]}`;
    const response = await app.inject({ method: 'POST', url: '/jobs/batch', headers: { 'content-type': 'application/json' }, payload });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ detail: 'body: holds more than 200,000 objects and arrays in all. Send fewer jobs per batch, or smaller params.', errors: [{ path: 'body' }] });
    expect(await keysUnder(redis, prefix)).toEqual(before);
  });

  test('between the two limits, the schema names the params that are too deep', async ({ app }) => {
    const response = await app.inject({ method: 'POST', url: '/jobs', payload: `{"model":"echo","params":{"x":${brackets(100)}}}`, headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().detail).toContain(`may nest objects and arrays at most ${MAX_PARAMS_DEPTH} levels deep`);
  });

  test('brackets, quotes and backslashes inside strings do not count', async ({ app }) => {
    const prompt = `${'['.repeat(300)} "quoted [[[" \\ ${'{'.repeat(300)} ends with a backslash \\`;
    const response = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt, metadata: { note: '[[["{{{' } } });
    expect(response.statusCode, response.body).toBe(202);
    const { job_id } = response.json();
    expect((await app.inject({ url: `/jobs/${job_id}` })).json().input).toMatchObject({ prompt });
  });
});

describe('nestedDeeperThan', () => {
  test('counts levels outside strings only, whatever the strings escape', () => {
    expect(nestedDeeperThan(brackets(4), 3)).toBe(true);
    expect(nestedDeeperThan(brackets(3), 3)).toBe(false);
    expect(nestedDeeperThan('[[[]],[[]],[[]]]', 3)).toBe(false);
    // An escaped quote does not end the string; an escaped backslash before a quote does.
    expect(nestedDeeperThan(`["a\\"[[[[[[", 1]`, 3)).toBe(false);
    expect(nestedDeeperThan(`["a\\\\", [[[[1]]]]]`, 3)).toBe(true);
    expect(nestedDeeperThan(`["a\\\\\\"[[[[", 1]`, 3)).toBe(false);
    // A string that never ends holds the rest.
    expect(nestedDeeperThan(`["${'['.repeat(20)}`, 3)).toBe(false);
  });

  test('jsonPastLimits counts every object and array, at any depth, and none inside strings', () => {
    expect(jsonPastLimits('[{},[],{"a":[1]}]', 3, 5)).toBeUndefined();
    expect(jsonPastLimits('[{},[],{"a":[1]},{}]', 3, 5)).toBe('containers');
    expect(jsonPastLimits('["{}{}{}{}{}{}"]', 3, 1)).toBeUndefined();
    expect(jsonPastLimits('[[[[]]]]', 3, 100)).toBe('depth');
  });
});
