import { expect, test } from 'vitest';
import { newJobId, queueOfJobId } from '../src/job-id.js';

test('a job ID names its queue and a ULID, and is never handed out twice', () => {
  const ids = Array.from({ length: 20_000 }, () => newJobId('inference'));
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of ids.slice(0, 100)) expect(id).toMatch(/^inference:[0-9A-HJKMNP-TV-Z]{26}$/);
  expect([...ids].sort()).toEqual(ids);
});

test('the queue is read from the ID without a lookup', () => {
  expect(queueOfJobId('documents:01JDQ8K3V7X9ABCDEFGHJKMNPQ')).toBe('documents');
  expect(queueOfJobId('inference:1699980000000-0')).toBe('inference');
  expect(queueOfJobId('no-queue-part')).toBeUndefined();
  expect(queueOfJobId(':01JDQ8')).toBeUndefined();
  expect(queueOfJobId('inference:')).toBeUndefined();
});
