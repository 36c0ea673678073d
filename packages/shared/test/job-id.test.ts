import { redisTest } from '@conveyor/testing';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeTime } from 'ulid';
import { expect, test } from 'vitest';
import { namedJobId, newJobId, queueOfJobId } from '../src/job-id.js';

test('a job ID names its queue and a ULID, and is never handed out twice', () => {
  const ids = Array.from({ length: 20_000 }, () => newJobId('inference'));
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of ids.slice(0, 100)) expect(id).toMatch(/^inference:[0-9A-HJKMNP-TV-Z]{26}$/);
  expect([...ids].sort()).toEqual(ids);
});

test("a job ID's time part is the time it was made, and its random part is drawn afresh each millisecond", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 40; i += 1) {
    const before = Date.now();
    const id = newJobId('inference').slice('inference:'.length);
    expect(decodeTime(id)).toBeGreaterThanOrEqual(before);
    expect(decodeTime(id)).toBeLessThanOrEqual(Date.now());
    ids.push(id);
    await sleep(2);
  }
  // 40 draws over a 32-letter alphabet: a random part that was not random would repeat.
  expect(new Set(ids.map((id) => id[10])).size).toBeGreaterThan(12);
});

test('the queue is read from the ID without a lookup', () => {
  expect(queueOfJobId('documents:01JDQ8K3V7X9ABCDEFGHJKMNPQ')).toBe('documents');
  expect(queueOfJobId('inference:1699980000000-0')).toBe('inference');
  expect(queueOfJobId('no-queue-part')).toBeUndefined();
  expect(queueOfJobId(':01JDQ8')).toBeUndefined();
  expect(queueOfJobId('inference:')).toBeUndefined();
});

// An entry's reserved `job` field is trusted only when it is a job ID of the stream's own queue
// without spaces or control characters; the scripts (directJobs.lua) and the API must agree.
redisTest("the `job` field names a job only with an ID of the entry's queue, without spaces or control characters, in the scripts as in the API", async ({ redis }) => {
  const cases: Array<[queue: string, value: string, named: boolean]> = [
    ['inference', 'inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ', true],
    ['inference', 'inference:1795425151333-0', true],
    ['documents', 'documents:summarize:low:1795425151333-0', true],
    ['inference.3', 'inference.3:01JDQ8K3V7X9ABCDEFGHJKMNPQ', true],
    ['inference', 'inference:caf\u00e9 \u00a0no-break', false],
    ['inference', 'inference:caf\u00e9\u00a0no-break', true],
    ['inference', 'inference:', false],
    ['inference', 'inference', false],
    ['inference', 'inference.3:01JDQ8K3V7X9ABCDEFGHJKMNPQ', false],
    ['inference.3', 'inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ', false],
    ['inference', 'documents:01JDQ8K3V7X9ABCDEFGHJKMNPQ', false],
    ['inference', 'not a job id', false],
    ['inference', 'inference:a b', false],
    ['inference', 'inference:tab\there', false],
    ['inference', 'inference:line\nbreak', false],
    ['inference', 'inference:nul\u0000', false],
    ['inference', 'inference:del\u007f', false],
    // At most 100 bytes (the API's routes take no longer path segment), and no U+FFFD, which is
    // how a client that decodes reads bytes that are not UTF-8.
    ['inference', `inference:${'a'.repeat(90)}`, true],
    ['inference', `inference:${'a'.repeat(91)}`, false],
    ['inference', `inference:${'\u00e9'.repeat(45)}`, true],
    ['inference', `inference:${'\u00e9'.repeat(46)}`, false],
    ['inference', 'inference:\ufffd', false],
  ];
  const include = readFileSync(new URL('../src/lua/includes/directJobs.lua', import.meta.url), 'utf8');
  const script = `${include}\nreturn namedJobId(ARGV[1], ARGV[2]) or false`;
  for (const [queue, value, named] of cases) {
    expect(namedJobId(queue, value), `API: ${JSON.stringify(value)}`).toBe(named ? value : undefined);
    expect(await redis.eval(script, 0, queue, value), `scripts: ${JSON.stringify(value)}`).toBe(named ? value : null);
  }
  expect(namedJobId('inference', undefined)).toBeUndefined();
});
