import { expect, test } from 'vitest';
import { backoffOf, DEFAULT_BACKOFF, retryAfterOf, retryDelay } from '../src/backoff.js';

test('exponential backoff doubles per attempt, is capped, and jitters within its upper half', () => {
  const backoff = { type: 'exponential' as const, delay_ms: 1_000, max_delay_ms: 10_000 };
  expect([1, 2, 3, 4, 5, 9].map((attempt) => retryDelay(backoff, attempt, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  expect([1, 2, 3].map((attempt) => retryDelay(backoff, attempt, () => 0))).toEqual([500, 1_000, 2_000]);
  for (let i = 0; i < 1_000; i++) {
    const delay = retryDelay(backoff, 3);
    expect(delay).toBeGreaterThanOrEqual(2_000);
    expect(delay).toBeLessThanOrEqual(4_000);
  }
});

test('fixed backoff waits the same each time; a job without its own backoff uses the default', () => {
  expect(retryDelay({ type: 'fixed', delay_ms: 300, max_delay_ms: 1_000 }, 7, () => 1)).toBe(300);
  expect(backoffOf(undefined)).toEqual(DEFAULT_BACKOFF);
  expect(backoffOf('{"type":"fixed","delay_ms":5}')).toEqual({ type: 'fixed', delay_ms: 5, max_delay_ms: 300_000 });
  expect(backoffOf('not json')).toEqual(DEFAULT_BACKOFF);
});

test("a wait the failure asks for (an endpoint's Retry-After) lengthens the delay, never past max_delay_ms, and never shortens it", () => {
  const backoff = { type: 'exponential' as const, delay_ms: 1_000, max_delay_ms: 10_000 };
  expect(retryDelay(backoff, 1, () => 1, 7_000)).toBe(7_000);
  expect(retryDelay(backoff, 1, () => 1, 1e12)).toBe(10_000);
  expect(retryDelay(backoff, 4, () => 1, 2_000)).toBe(8_000);
  expect(retryDelay(backoff, 1, () => 1, 0)).toBe(1_000);
  expect(retryDelay(backoff, 1, () => 1, Number.NaN)).toBe(1_000);
  expect(retryDelay({ type: 'fixed', delay_ms: 100, max_delay_ms: 100 }, 1, () => 1, 60_000)).toBe(100);
  expect(retryAfterOf(Object.assign(new Error('busy'), { retryAfterMs: 3_000 }))).toBe(3_000);
  for (const odd of [new Error('plain'), Object.assign(new Error('x'), { retryAfterMs: -1 }), Object.assign(new Error('x'), { retryAfterMs: '5' }), null, 'text']) {
    expect(retryAfterOf(odd)).toBeUndefined();
  }
});
