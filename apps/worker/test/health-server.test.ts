import { freePort, launchWorker, takenPort } from '@conveyor/testing';
import { connect } from 'node:net';
import { expect, test } from 'vitest';
import { portOf, startHealthServer, type HealthSource } from '../src/health-server.js';

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

/** What the listener at `port` writes back to `bytes`, until it closes the connection. */
function rawAnswer(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let received = '';
    socket.on('data', (chunk) => (received += String(chunk)));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

test('bytes that are no HTTP request get a problem body and a closed connection; a request without Host is answered as any other', async () => {
  const server = await startHealthServer(source, 0, '127.0.0.1');
  try {
    const port = portOf(server);
    const garbage = await rawAnswer(port, 'HELLO\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(garbage).toMatch(/\r\nContent-Type: application\/problem\+json\r\n/);
    expect(JSON.parse(garbage.split('\r\n\r\n')[1]!)).toMatchObject({ status: 400, detail: expect.stringContaining('not valid HTTP') });

    const huge = await rawAnswer(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(huge.split('\r\n\r\n')[1]!)).toMatchObject({ status: 431 });

    const noHost = await rawAnswer(port, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(noHost).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(noHost).toContain('"status":"ok"');
  } finally {
    server.close();
  }
});
