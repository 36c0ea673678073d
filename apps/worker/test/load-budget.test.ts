import { describe, expect, test } from 'vitest';
import { LoadBudget } from '../src/load-budget.js';

const MiB = 1024 * 1024;
const never = new AbortController().signal;
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('the load budget', () => {
  test('loads that fit run at once; one past the budget waits until enough is given back', async () => {
    const budget = new LoadBudget(40 * MiB);
    const first = await budget.take(20 * MiB, never);
    const second = await budget.take(20 * MiB, never);
    let third: (() => void) | undefined;
    void budget.take(20 * MiB, never).then((giveBack) => (third = giveBack));
    await settled();
    expect(third).toBeUndefined();
    expect(budget.waiting).toBe(1);
    first();
    first(); // giving back twice gives back once
    await settled();
    expect(third).toBeDefined();
    expect(budget.used).toBe(40 * MiB);
    second();
    third!();
    expect(budget.used).toBe(0);
  });

  test('a load larger than the whole budget runs alone', async () => {
    const budget = new LoadBudget(10 * MiB);
    const small = await budget.take(2 * MiB, never);
    let large: (() => void) | undefined;
    void budget.take(30 * MiB, never).then((giveBack) => (large = giveBack));
    await settled();
    expect(large).toBeUndefined();
    small();
    await settled();
    expect(large).toBeDefined();
    expect(budget.used).toBe(30 * MiB);
  });

  test('loads are let in in the order they asked: small ones do not pass a waiting large one', async () => {
    const budget = new LoadBudget(30 * MiB);
    const first = await budget.take(20 * MiB, never);
    const order: string[] = [];
    void budget.take(20 * MiB, never).then(() => order.push('large'));
    void budget.take(5 * MiB, never).then(() => order.push('small'));
    await settled();
    expect(order).toEqual([]);
    first();
    await settled();
    expect(order).toEqual(['large', 'small']);
  });

  test('a wait ends when the job is stopped, and the ones behind it move up', async () => {
    const budget = new LoadBudget(30 * MiB);
    const first = await budget.take(20 * MiB, never);
    const controller = new AbortController();
    const stopped = budget.take(20 * MiB, controller.signal);
    let behind: (() => void) | undefined;
    void budget.take(5 * MiB, never).then((giveBack) => (behind = giveBack));
    controller.abort(new Error('job cancelled'));
    await expect(stopped).rejects.toThrow('job cancelled');
    await settled();
    expect(behind).toBeDefined();
    expect(budget.used).toBe(25 * MiB);
    expect(budget.waiting).toBe(0);
    first();
  });
});
