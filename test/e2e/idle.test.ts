import { createRedis } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';

// An idle stack should sleep: on a laptop and on a node packed with replicas, each wake-up costs.
// The metrics library's event-loop monitor alone woke each process 100 times a second (a 10 ms
// timer); it now samples every 100 ms.
const prefix = uniquePrefix('idle');
let api: ApiProcess;
let worker: WorkerProcess;

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix }), startWorker({ redisUrl, prefix })]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

/** Times the process's threads have gone to sleep on their own so far (each such sleep ends in a wake-up). */
function sleeps(pid: number): number {
  return readdirSync(`/proc/${pid}/task`).reduce((sum, task) => {
    const line = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8'));
    return sum + Number(line?.[1] ?? 0);
  }, 0);
}

test.runIf(process.platform === 'linux')('idle, the API and a worker wake a few dozen times a second at most, not hundreds', { timeout: 30_000 }, async () => {
  await sleep(2_000);
  const before = { api: sleeps(api.pid), worker: sleeps(worker.pid) };
  await sleep(5_000);
  const perSecond = { api: (sleeps(api.pid) - before.api) / 5, worker: (sleeps(worker.pid) - before.worker) / 5 };
  console.log(`wake-ups per second, idle: API ${perSecond.api}, worker ${perSecond.worker}`);
  // Measured here: about 10 and 13–35 (about 100 and 100–120 with the 10 ms monitor).
  expect(perSecond.api).toBeLessThan(40);
  expect(perSecond.worker).toBeLessThan(70);

  // The event-loop lag is still measured, at 100 ms.
  for (const url of [`${api.url}/metrics`, `http://127.0.0.1:${worker.healthPort}/metrics`]) {
    expect(await (await fetch(url)).text()).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
  }
});
