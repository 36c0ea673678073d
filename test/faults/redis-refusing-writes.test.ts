import { QueueKeys } from '@conveyor/shared';
import { freePort, launchWorker, RedisServer, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { connect, countBy, FAST, pendingAndActive, report, statesOf } from './fault-support.js';
import { diskUnwritable, outOfMemory, type WriteRefusal } from './write-refusals.js';

interface Refusal extends WriteRefusal {
  name: string;
  /** The Redis error every write gets meanwhile, and what the API's 503 says of it. */
  error: RegExp;
  detail: RegExp;
  /** Every write is refused, not only those that need memory: a worker cannot even start. */
  everyWrite: boolean;
}

/** A worker's `conveyor_jobs_unrecorded`: jobs it finished whose outcome Redis has not taken yet. */
async function unrecorded(worker: WorkerProcess): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${worker.healthPort}/metrics`)).text();
  return Number(/^conveyor_jobs_unrecorded (\d+)$/m.exec(metrics)![1]);
}

const refusals: Refusal[] = [
  { name: 'out of memory', ...outOfMemory, error: /^OOM/, everyWrite: false, detail: /out of memory.*Nothing was written/ },
  { name: 'unable to write to disk', ...diskUnwritable, error: /^MISCONF/, everyWrite: true, detail: /cannot write its data to disk.*Nothing was written/ },
];

/**
 * Nothing may be lost, run twice or dead-lettered because Redis refuses writes for a while: the
 * API answers 503 and writes nothing, workers keep what they finished until Redis takes it, and
 * once Redis takes writes again every accepted job completes.
 */
describe.each(refusals)('Redis refusing writes: $name', (refusal) => {
  test('submissions get a 503 and write nothing, finished jobs are kept until Redis takes them, and then every accepted job completes in one attempt, none dead', { timeout: 120_000 }, async () => {
    const server = await RedisServer.start();
    const prefix = uniquePrefix('refusing');
    let api: ApiProcess | undefined;
    const workers: WorkerProcess[] = [];
    let late: WorkerProcess | undefined;
    const redis = connect(server.url);
    const post = (path: string, body: object) =>
      fetch(`${api!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    try {
      api = await startApi({ redisUrl: server.url, prefix, env: FAST });
      workers.push(...(await Promise.all([1, 2].map(() => startWorker({ redisUrl: server.url, prefix, env: { ...FAST, CONCURRENCY: '8' } })))));

      // Running from the start, and failing its first attempt once Redis refuses writes.
      const failing = await post('/jobs', { model: 'echo', prompt: 'fails once', backoff: { type: 'fixed', delay_ms: 100 }, params: { sleep_ms: 4_000, fail: 1 } });
      expect(failing.status).toBe(202);
      const failingId = ((await failing.json()) as { job_id: string }).job_id;
      await waitFor(async () => ((await (await fetch(`${api!.url}/jobs/${failingId}`)).json()) as { status: string }).status === 'active', 'the failing job to run');

      // Running too, and reporting progress while Redis refuses writes: a report, not the work, so its
      // refusal must not fail the attempt.
      const reporting = await post('/jobs', { model: 'echo', prompt: 'reports progress', params: { sleep_ms: 8_000, progress: true } });
      expect(reporting.status).toBe(202);
      const reportingId = ((await reporting.json()) as { job_id: string }).job_id;

      const accepted: string[] = [];
      for (let i = 0; i < 300; i++) {
        const response = await post('/jobs', { model: 'echo', prompt: `before ${i}`, params: { sleep_ms: 300 + (i % 5) * 200 } });
        expect(response.status).toBe(202);
        accepted.push(((await response.json()) as { job_id: string }).job_id);
      }

      const stream = new QueueKeys(prefix, 'inference').stream('infer', 'normal');
      const entriesBefore = await redis.xlen(stream);

      await refusal.refuse(server, redis);
      const refusedAt = Date.now();
      const single = await post('/jobs', { model: 'echo', prompt: 'while refused' });
      const singleBody = (await single.json()) as Record<string, unknown>;
      expect(single.status, JSON.stringify(singleBody)).toBe(503);
      expect(single.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(single.headers.get('retry-after')).toBe('1');
      expect(singleBody['detail']).toMatch(refusal.detail);
      const batch = await post('/jobs/batch', { jobs: [{ model: 'echo', prompt: 'a' }, { model: 'echo', prompt: 'b' }] });
      expect(batch.status).toBe(503);
      for (let i = 0; i < 10; i++) expect((await post('/jobs', { model: 'echo', prompt: `refused ${i}` })).status).toBe(503);
      expect(await redis.xlen(stream)).toBe(entriesBefore);
      // Every request is answered 503 through an outage: the log says so once, not once each.
      const warnings = api.logs().filter((line) => line['msg'] === 'Redis unavailable; answered 503');
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]!['err'])).toMatch(refusal.error);
      // Reads still answer.
      const read = await fetch(`${api.url}/jobs/${accepted[0]}`);
      expect(read.status).toBe(200);

      // A worker started now waits for Redis instead of exiting (and being restarted, with
      // Kubernetes's growing back-off): alive, not ready until it has started.
      const latePort = await freePort();
      late = launchWorker({ redisUrl: server.url, prefix, env: { ...FAST, WORKER_PORT: String(latePort) } });
      const lateStarted = () => late!.logs().some((line) => line['msg'] === 'worker running');
      if (refusal.everyWrite) {
        await waitFor(() => late!.logs().some((line) => String(line['msg']).startsWith('Redis refused to claim the consumer name; waiting')), 'the late worker to wait for Redis');
        expect(lateStarted()).toBe(false);
      }

      // 6 leases long: workers finish what they hold, and keep it until Redis takes it.
      await sleep(6_000);
      expect(late.running).toBe(true);
      if (refusal.everyWrite) {
        const ready = await fetch(`http://127.0.0.1:${latePort}/readyz`);
        expect(ready.status).toBe(503);
        // And says why, as its log does (it said only that it was starting).
        expect(await ready.json()).toMatchObject({ state: 'starting', redis: expect.stringMatching(/^Redis refused to claim the consumer name; waiting until it takes writes: (OOM|MISCONF)/) });
      }
      const during = await statesOf(redis, prefix, accepted);
      const waiting = await Promise.all(workers.map(unrecorded));
      await refusal.allow(server, redis);
      const refusedMs = Date.now() - refusedAt;
      await waitFor(lateStarted, 'the late worker to start once Redis takes writes');
      expect((await fetch(`http://127.0.0.1:${latePort}/readyz`)).status).toBe(200);

      const states = await waitFor(async () => {
        const all = await statesOf(redis, prefix, accepted);
        return all.every((state) => state.status === 'completed' || state.status === 'dead') ? all : undefined;
      }, 'every accepted job to end', 60_000, 250);
      report(`Redis refusing writes: ${refusal.name}`, {
        'jobs accepted before': accepted.length,
        'writes refused for ms': refusedMs,
        'states meanwhile': countBy(during, (s) => String(s.status)),
      'outcomes waiting in the workers (conveyor_jobs_unrecorded)': waiting,
        'states after': countBy(states, (s) => String(s.status)),
        'attempts per job': countBy(states, (s) => String(s.attempts)),
        'errors recorded': countBy(states.flatMap((s) => s.errors), (e) => e.code ?? e.message.slice(0, 60)),
        'job that failed once (its failure recorded after)': failingId,
      });
      // What the workers finished while Redis refused writes was kept and recorded, not run again.
      expect(countBy(states, (s) => String(s.status))).toEqual({ completed: 300 });
      expect(countBy(states, (s) => String(s.attempts))).toEqual({ '1': 300 });
      expect(states.flatMap((s) => s.errors)).toEqual([]);
      const [failed] = await waitFor(async () => {
        const [state] = await statesOf(redis, prefix, [failingId]);
        return state?.status === 'completed' ? [state] : undefined;
      }, 'the job that failed once to complete');
      expect(failed!.attempts).toBe(2);
      expect(failed!.errors.map((e) => e.message)).toEqual([expect.stringContaining('echo was asked to fail')]);
      // It failed while Redis refused writes: its failure waited in the worker, not its job in a stream.
      const failedAt = failed!.errors[0]!.at!;
      expect(failedAt).toBeGreaterThan(refusedAt);
      expect(failedAt).toBeLessThan(refusedAt + refusedMs);
      const [reported] = await waitFor(async () => {
        const [state] = await statesOf(redis, prefix, [reportingId]);
        return state?.status === 'completed' ? [state] : undefined;
      }, 'the job that reported progress to complete');
      expect(reported).toMatchObject({ attempts: 1, errors: [] });
      const dropped = workers.flatMap((worker) => worker.logs()).filter((line) => line['msg'] === 'progress not recorded: Redis did not take it; the job goes on');
      expect(dropped.map((line) => [line['job_id'], String(line['err']).match(refusal.error)?.[0]])).toEqual([[reportingId, expect.any(String)]]);
      const held = workers.flatMap((worker) => worker.logs()).filter((line) => String(line['msg']).startsWith('Redis did not take the'));
      expect(held.length).toBeGreaterThan(0);
      expect(held.every((line) => refusal.error.test(String(line['err'])))).toBe(true);
      // The workers said so meanwhile, and say none waits now.
      expect(waiting.reduce((sum, count) => sum + count)).toBeGreaterThan(0);
      expect(await Promise.all(workers.map(unrecorded))).toEqual([0, 0]);
      const { pending, active } = await pendingAndActive(redis, prefix);
      expect(pending).toBe(0);
      expect(active).toBe(0);
      expect([api, late, ...workers].every((process) => process.running)).toBe(true);
      // And new work is taken again.
      const after = await post('/jobs', { model: 'echo', prompt: 'after' });
      expect(after.status).toBe(202);
    } finally {
      await Promise.all([api?.stop(), late?.stop(), ...workers.map((worker) => worker.stop())]);
      // A Redis that saves at shutdown and cannot (a test that failed while it refused) would not stop.
      await redis.config('SET', 'save', '').catch(() => {});
      redis.disconnect();
      await server.stop();
    }
  });
});

test('a Redis refusing every write renews no lease: once it takes writes again, an idle worker takes over only the jobs of a holder that died meanwhile, not those of a live one', { timeout: 120_000 }, async () => {
  const server = await RedisServer.start();
  const prefix = uniquePrefix('leases');
  let api: ApiProcess | undefined;
  const workers: WorkerProcess[] = [];
  const redis = connect(server.url);
  try {
    api = await startApi({ redisUrl: server.url, prefix, env: FAST });
    const [dying, living] = await Promise.all(['dying', 'living'].map((name) => startWorker({ redisUrl: server.url, prefix, env: { ...FAST, CONCURRENCY: '8', CONSUMER_NAME: name } })));
    workers.push(dying!, living!);
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) {
      const response = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt: `held ${i}`, params: { sleep_ms: 2_000 } }) });
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as { job_id: string }).job_id);
    }
    await waitFor(async () => (await pendingAndActive(redis, prefix)).active === 16, 'the 16 jobs to be held');
    // Free slots, nothing to take, and a look for lapsed leases every 10 ms: it would take over
    // any job whose lease looks lapsed before its holder could record it.
    const idle = await startWorker({ redisUrl: server.url, prefix, env: { ...FAST, CONCURRENCY: '64', CONSUMER_NAME: 'idle', MAINTENANCE_INTERVAL: '10ms' } });
    workers.push(idle);

    await diskUnwritable.refuse(server, redis);
    await sleep(1_000);
    dying!.signal('SIGKILL');
    // 6 leases without a renewal: the living holder's jobs finish and wait for Redis.
    await sleep(5_000);
    await diskUnwritable.allow(server, redis);

    const states = await waitFor(async () => {
      const all = await statesOf(redis, prefix, ids);
      return all.every((state) => state.status === 'completed') ? all : undefined;
    }, 'every job to complete', 30_000, 250);
    const takenOver = idle.logs().filter((line) => line['msg'] === 'took over a job whose lease lapsed').length + living!.logs().filter((line) => line['msg'] === 'took over a job whose lease lapsed').length;
    report('leases while Redis refuses every write', {
      'completed by, attempts': countBy(states, (s) => `${s.worker}, ${s.attempts}`),
      'taken over': takenOver,
    });
    // The living holder's 8 in their first attempt; the dead one's 8 taken over (by either worker).
    expect(countBy(states, (s) => String(s.attempts))).toEqual({ '1': 8, '2': 8 });
    expect(states.filter((s) => s.attempts === 1).every((s) => s.worker === 'living')).toBe(true);
    expect(takenOver).toBe(8);
  } finally {
    await redis.config('SET', 'save', '').catch(() => {});
    await Promise.all([api?.stop(), ...workers.map((worker) => worker.stop())]);
    redis.disconnect();
    await server.stop();
  }
});
