import { RedisServer, startApi, startWorker, uniquePrefix, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { connect, countBy, FAST, pendingAndActive, report, statesOf, type JobState } from './fault-support.js';
import { diskUnwritable, outOfMemory } from './write-refusals.js';

const CONCURRENCY = 8;
/**
 * Each client posts at most this many jobs a second (600 in all); the three workers run about 780
 * of these jobs a second, so the backlog stays small. Posting as fast as they could, the clients
 * left a backlog of up to 73k jobs, whose drain outlasted a fixed 90 s wait in some suite runs:
 * when a worker stopped taking jobs (see kept-slots.test.ts), or the machine ran other work.
 */
const JOBS_PER_SECOND_PER_CLIENT = 75;
/** Waiting for the last jobs fails only when none completes for this long (a job lost for good). */
const STALL_MS = 20_000;

test('chaos: 8 clients posting 600 jobs/s for 40 s (some jobs delayed, some failing once) while workers are SIGKILLed and Redis refuses writes in turn; every accepted job completes, and only the jobs of killed workers run again', { timeout: 240_000 }, async () => {
  const server = await RedisServer.start();
  const prefix = uniquePrefix('chaos');
  let api: ApiProcess | undefined;
  const workers: WorkerProcess[] = [];
  const redis = connect(server.url);
  const env = { ...FAST, CONCURRENCY: String(CONCURRENCY) };
  const actions: string[] = [];
  const timeline: [number, string][] = [];
  try {
    api = await startApi({ redisUrl: server.url, prefix, env: { ...FAST, MAX_BACKLOG: '0' } });
    workers.push(...(await Promise.all([1, 2, 3].map(() => startWorker({ redisUrl: server.url, prefix, env })))));
    const accepted: string[] = [];
    let refused = 0;
    const started = Date.now();
    const until = started + 40_000;
    // A client that honours a 503 saying nothing was written: it waits and sends again.
    const client = async (c: number) => {
      for (let n = 0; Date.now() < until; n++) {
        const due = started + (n * 1_000) / JOBS_PER_SECOND_PER_CLIENT;
        if (due > Date.now()) await sleep(due - Date.now());
        const kind = n % 20;
        const body: Record<string, unknown> = { model: 'echo', prompt: `${c}.${n}`, params: { sleep_ms: n % 50 } };
        if (kind === 0 || kind === 7) body['delay_ms'] = (n * 37) % 2_000;
        if (kind === 13) Object.assign(body, { params: { fail: 1 }, backoff: { type: 'fixed', delay_ms: 100 } });
        for (;;) {
          const response = await fetch(`${api!.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
          const answer = (await response.json()) as { job_id?: string; detail?: string };
          if (response.status === 202) {
            accepted.push(answer.job_id!);
            break;
          }
          expect(response.status, JSON.stringify(answer)).toBe(503);
          expect(answer.detail).toMatch(/Nothing was written/);
          refused += 1;
          await sleep(100);
        }
      }
    };
    const chaos = async () => {
      for (let round = 0; Date.now() < until - 5_000; round++) {
        await sleep(2_000 + Math.random() * 2_000);
        const action = (['kill', 'misconf', 'kill', 'oom'] as const)[round % 4]!;
        actions.push(action);
        timeline.push([Date.now(), action]);
        if (action !== 'kill') {
          // For 2 to 4 s, Redis refuses writes: it cannot save its snapshot, or it is full.
          const refusal = action === 'misconf' ? diskUnwritable : outOfMemory;
          await refusal.refuse(server, redis);
          await sleep(2_000 + Math.random() * 2_000);
          await refusal.allow(server, redis);
        } else {
          const i = round % workers.length;
          workers[i]!.signal('SIGKILL');
          workers[i] = await startWorker({ redisUrl: server.url, prefix, env });
        }
      }
    };
    await Promise.all([...Array.from({ length: 8 }, (_, c) => client(c)), chaos()]);

    const states = await drained(redis, prefix, accepted);
    const { pending, active } = await pendingAndActive(redis, prefix);
    // When each killed worker's jobs were taken over (a lapsed lease is recorded as it is).
    const lapses = states.flatMap((state) => state.errors).filter((error) => error.code === 'LEASE_EXPIRED').map((error) => error.at!);
    const killedAt = timeline.filter(([, action]) => action === 'kill').map(([at]) => at);
    const takenOverAfter = lapses.map((at) => at - Math.max(...killedAt.filter((killed) => killed <= at)));
    const rerun = lapses.length;
    const kills = actions.filter((action) => action === 'kill').length;
    report('chaos', {
      'jobs accepted (202)': accepted.length,
      'answers 503 (nothing written; sent again)': refused,
      actions: countBy(actions, (action) => action),
      'attempts per job': countBy(states, (state) => String(state.attempts)),
      'errors recorded': countBy(states.flatMap((state) => state.errors), (error) => error.code ?? 'asked to fail'),
      'killed workers\' jobs taken over after (ms, most)': Math.max(0, ...takenOverAfter),
    });
    expect(new Set(accepted).size).toBe(accepted.length);
    expect(refused).toBeGreaterThan(0);
    expect(pending).toBe(0);
    expect(active).toBe(0);
    // A job runs again only when the worker holding it was killed: at most CONCURRENCY per kill.
    expect(rerun).toBeLessThanOrEqual(kills * CONCURRENCY);
    // And a killed worker's jobs are taken over while the load goes on (the lease is 1 s), not
    // once the backlog is gone.
    expect(rerun).toBeGreaterThan(0);
    expect(Math.max(...takenOverAfter)).toBeLessThan(6_000);
    expect(states.flatMap((state) => state.errors).every((error) => error.code === 'LEASE_EXPIRED' || /echo was asked to fail/.test(error.message))).toBe(true);
  } finally {
    await redis.config('SET', 'save', '').catch(() => {});
    await Promise.all([api?.stop(), ...workers.map((worker) => worker.stop())]);
    redis.disconnect();
    await server.stop();
  }
});

/**
 * Waits until every accepted job has completed, as long as jobs go on completing: how fast the
 * backlog drains depends on what else the machine runs, a job that never completes does not.
 */
async function drained(redis: Redis, prefix: string, ids: readonly string[]): Promise<JobState[]> {
  let completed = -1;
  let progressAt = Date.now();
  for (;;) {
    const states = await statesOf(redis, prefix, ids);
    const done = states.filter((state) => state.status === 'completed').length;
    if (done === ids.length) return states;
    if (done > completed) [completed, progressAt] = [done, Date.now()];
    if (Date.now() - progressAt > STALL_MS) {
      const left = countBy(states.filter((state) => state.status !== 'completed'), (state) => state.status ?? 'queued (no record yet)');
      throw new Error(`${ids.length - done} of ${ids.length} accepted jobs did not complete, and none completed for ${STALL_MS} ms: ${JSON.stringify(left)}`);
    }
    await sleep(500);
  }
}
