import { RedisServer, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { connect, countBy, FAST, pendingAndActive, report, statesOf } from './fault-support.js';

describe.each(['SIGTERM', 'SIGKILL'] as const)('Redis restarted with %s in the middle of processing', (signal) => {
  test('every job that got a 202 ends completed, and the API and workers recover without being restarted', { timeout: 180_000 }, async () => {
    const server = await RedisServer.start({ appendfsync: 'always' });
    const prefix = uniquePrefix('restart');
    let api: ApiProcess | undefined;
    const workers: WorkerProcess[] = [];
    const redis = connect(server.url);
    try {
      api = await startApi({ redisUrl: server.url, prefix, env: FAST });
      workers.push(...(await Promise.all([1, 2, 3].map(() => startWorker({ redisUrl: server.url, prefix, env: { ...FAST, CONCURRENCY: '8' } })))));
      const pids = [api.pid, ...workers.map((worker) => worker.pid)];

      const accepted: string[] = [];
      let refused = 0;
      let next = 0;
      // 20 clients; a 503 is answered like a client honouring Retry-After: wait, send again.
      const client = async () => {
        while (next < 2_000) {
          next += 1;
          for (;;) {
            const response = await fetch(`${api!.url}/jobs`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ model: 'echo', prompt: 'restart', params: { sleep_ms: 5 + Math.floor(Math.random() * 20) } }),
            });
            if (response.status === 202) {
              accepted.push(((await response.json()) as { job_id: string }).job_id);
              break;
            }
            expect(response.status).toBe(503);
            refused += 1;
            await sleep(100);
          }
        }
      };
      let downMs = 0;
      const restart = (async () => {
        await waitFor(() => accepted.length >= 700, '700 accepted jobs', 60_000, 5);
        const stopped = Date.now();
        await server.kill(signal);
        await sleep(500);
        await server.restart();
        downMs = Date.now() - stopped;
      })();
      const started = Date.now();
      await Promise.all([...Array.from({ length: 20 }, client), restart]);

      const states = await waitFor(async () => {
        const all = await statesOf(redis, prefix, accepted);
        return all.every((state) => state.status === 'completed') ? all : undefined;
      }, 'every accepted job to complete', 90_000, 250);
      const { pending, active } = await pendingAndActive(redis, prefix);
      report(`Redis restart (${signal})`, {
        'jobs accepted (202)': accepted.length,
        'answers 503 while Redis was down (then sent again)': refused,
        'Redis down for ms': downMs,
        completed: states.filter((s) => s.status === 'completed').length,
        'attempts per job': countBy(states, (s) => String(s.attempts)),
        seconds: ((Date.now() - started) / 1000).toFixed(1),
      });
      expect(new Set(accepted).size).toBe(2_000);
      expect(refused).toBeGreaterThan(0);
      expect(pending).toBe(0);
      expect(active).toBe(0);
      expect([api.pid, ...workers.map((worker) => worker.pid)]).toEqual(pids);
      expect([api, ...workers].every((process) => process.running)).toBe(true);
      // The API says when its connection is back, as the workers do (its log ended at the errors).
      const said = api.logs().map((line) => String(line['msg']));
      expect(said.lastIndexOf('Redis connection is back'), api.describe()).toBeGreaterThan(said.lastIndexOf('Redis connection error'));
      // Its 503s are logged in the words the client got, not the Redis client library's ("Stream isn't writeable and enableOfflineQueue options is false").
      const answered503 = api.logs().filter((line) => line['msg'] === 'Redis unavailable; answered 503');
      expect(answered503.length, api.describe()).toBeGreaterThan(0);
      expect(JSON.stringify(answered503)).not.toMatch(/enableOfflineQueue|Stream isn't writeable/);
    } finally {
      await Promise.all([api?.stop(), ...workers.map((worker) => worker.stop())]);
      redis.disconnect();
      await server.stop();
    }
  });
});
