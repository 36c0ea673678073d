import { freePort, launchWorker, takenPort } from '@conveyor/testing';
import { expect, test } from 'vitest';
import { startHealthServer, type HealthSource } from '../src/health-server.js';

const source: HealthSource = { live: () => true, ready: () => true, describe: () => ({}), metrics: async () => ({ contentType: 'text/plain', body: '' }) };

test('a taken WORKER_PORT is refused naming WORKER_PORT and the ways out: another port, 0 for any free one, -1 for no health listener', async () => {
  const { port, holder } = await takenPort('0.0.0.0');
  try {
    const refusal = await startHealthServer(source, port, '0.0.0.0').then(
      () => expect.fail('it listened on a taken port'),
      (error: NodeJS.ErrnoException) => error,
    );
    expect(refusal.code).toBe('EADDRINUSE');
    expect(refusal.message).toMatch(new RegExp(`^WORKER_PORT ${port} is taken on 0\\.0\\.0\\.0 `));
    expect(refusal.message).toContain('set WORKER_PORT to a free port, to 0 for any free one, or to -1 to run without it');
  } finally {
    holder.close();
  }
});

test('the worker process with a taken WORKER_PORT says so in its one fatal line and exits 1', async () => {
  const { port, holder } = await takenPort('0.0.0.0');
  // The health listener starts before the worker uses Redis: nothing needs to answer here.
  const worker = launchWorker({ redisUrl: `redis://127.0.0.1:${await freePort()}`, prefix: 'health-port', env: { WORKER_PORT: String(port), WORKER_HOST: '0.0.0.0' } });
  try {
    expect((await worker.exited).code).toBe(1);
    const fatal = worker.logs().filter((line) => line['level'] === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!['msg']).toMatch(new RegExp(`^worker could not start: WORKER_PORT ${port} is taken on 0\\.0\\.0\\.0 .*-1`));
    expect(fatal[0]).toMatchObject({ code: 'EADDRINUSE' });
    expect(fatal[0]).not.toHaveProperty('err');
  } finally {
    worker.signal('SIGKILL');
    holder.close();
  }
});

test('a WORKER_HOST that is no address of this machine names WORKER_HOST in the fatal line', async () => {
  const worker = launchWorker({ redisUrl: `redis://127.0.0.1:${await freePort()}`, prefix: 'health-port', env: { WORKER_PORT: '0', WORKER_HOST: 'no-such-host.invalid' } });
  try {
    expect((await worker.exited).code).toBe(1);
    const fatal = worker.logs().filter((line) => line['level'] === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!['msg']).toMatch(/^worker could not start: WORKER_HOST no-such-host\.invalid is not an address of this machine \((ENOTFOUND|EAI_AGAIN)\), .*set WORKER_HOST to one of its addresses/);
    expect(fatal[0]).not.toHaveProperty('err');
  } finally {
    worker.signal('SIGKILL');
  }
});
