import { deletePrefix, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, test } from 'vitest';
import { connect, countBy, enqueueEcho, FAST, pendingAndActive, report, statesOf } from './fault-support.js';

test('workers SIGKILLed every ~300 ms for the whole run lose no job: every job completes, none stays active, the PEL ends empty', { timeout: 150_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('kill');
  const redis = connect(redisUrl);
  const env = { ...FAST, CONCURRENCY: '4' };
  const workers: WorkerProcess[] = [];
  let kills = 0;
  try {
    workers.push(...(await Promise.all([1, 2, 3].map(() => startWorker({ redisUrl, prefix, env })))));
    const started = Date.now();
    const ids = await enqueueEcho(redis, prefix, 2_000, 5, 50);

    // Kill a random worker every ~300 ms and start a replacement without waiting for it. A
    // worker takes ~0.4 s to start here, longer than the interval, so the last running worker
    // is spared: otherwise the fleet would shrink to nothing but starting processes.
    let done = false;
    const replacements: Promise<void>[] = [];
    const chaos = (async () => {
      while (!done) {
        await sleep(250 + Math.random() * 100);
        const running = workers.filter((worker) => worker.running && worker.healthPort > 0);
        if (done || running.length < 2) continue;
        const victim = running[Math.floor(Math.random() * running.length)]!;
        victim.signal('SIGKILL');
        kills += 1;
        replacements.push(startWorker({ redisUrl, prefix, env }).then((worker) => void workers.push(worker)));
      }
    })();

    const states = await waitFor(async () => {
      const all = await statesOf(redis, prefix, ids);
      return all.every((state) => state.status === 'completed') ? all : undefined;
    }, 'all 2000 jobs to complete', 120_000, 250).finally(() => (done = true));
    await chaos;
    await Promise.all(replacements);
    const elapsed = Date.now() - started;

    const { pending, active } = await pendingAndActive(redis, prefix);
    const duplicates = states.reduce((sum, state) => sum + state.attempts - 1, 0);
    report('worker kill', {
      jobs: ids.length,
      'workers killed': kills,
      'kills per second': (kills / (elapsed / 1000)).toFixed(1),
      'completed': states.filter((s) => s.status === 'completed').length,
      'extra executions (allowed, from reclaimed jobs)': duplicates,
      'jobs run more than once': states.filter((s) => s.attempts > 1).length,
      'attempts per job': countBy(states, (s) => String(s.attempts)),
      'seconds': (elapsed / 1000).toFixed(1),
    });
    expect(kills).toBeGreaterThanOrEqual(10);
    expect(states.filter((state) => state.status !== 'completed')).toEqual([]);
    expect(pending).toBe(0);
    expect(active).toBe(0);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
});
