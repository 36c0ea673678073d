import { setTimeout as sleep } from 'node:timers/promises';
import { decodeTime } from 'ulid';
import { expect, test } from 'vitest';
import { newJobId, queueOfJobId } from '../src/job-id.js';

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
