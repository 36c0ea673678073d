import { freePort, launchApi, makeTlsCertificates, startApi, startWorker, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';

/**
 * `rediss://` end to end: a redis-server that speaks TLS only, with a certificate from a private
 * CA, and the API and a worker that trust that CA through NODE_EXTRA_CA_CERTS (as the README says).
 */
const dir = mkdtempSync(join(tmpdir(), 'conveyor-tls-'));
let redis: ChildProcess;
let url: string;
let api: ApiProcess;
let worker: WorkerProcess;

beforeAll(async () => {
  const { ca, cert, key } = makeTlsCertificates(dir, 'DNS:localhost,IP:127.0.0.1');
  const port = await freePort();
  redis = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', ca, '--tls-auth-clients', 'no'], { cwd: dir, stdio: 'ignore' });
  url = `rediss://localhost:${port}`;
  await waitFor(() => spawnSync('redis-cli', ['--tls', '--cacert', ca, '-h', 'localhost', '-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 'the TLS redis-server');
  const env = { NODE_EXTRA_CA_CERTS: ca };
  [api, worker] = await Promise.all([startApi({ redisUrl: url, prefix: 'tls', env }), startWorker({ redisUrl: url, prefix: 'tls', env })]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  redis?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

test('the API and a worker reach a TLS-only Redis through rediss:// and run a job', async () => {
  const posted = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"over tls"}' });
  expect(posted.status).toBe(202);
  const { job_id } = (await posted.json()) as { job_id: string };
  const job = await waitFor(async () => {
    const body = (await (await fetch(`${api.url}/jobs/${job_id}`)).json()) as { status: string; result?: unknown };
    return body.status === 'completed' ? body : undefined;
  }, 'the job to complete');
  expect(job.result).toEqual({ model: 'echo', text: 'over tls' });
});

test('a scheme that does not match the port is named as the likely cause (ioredis says only ETIMEDOUT or ECONNRESET)', async () => {
  const tlsPort = new URL(url).port;
  const plain = new URL(inject('redisUrl'));
  const mismatched = await Promise.all([
    launchApi({ redisUrl: `redis://localhost:${tlsPort}`, prefix: 'tls-mismatch' }),
    launchApi({ redisUrl: `rediss://${plain.host}`, prefix: 'tls-mismatch' }),
  ]);
  try {
    const [plainOnTls, tlsOnPlain] = await Promise.all(
      mismatched.map((each) =>
        waitFor(async () => {
          const answer = await fetch(`${each.url}/readyz`).catch(() => undefined);
          const detail = answer?.status === 503 ? ((await answer.json()) as { detail: string }).detail : '';
          return /\(REDIS_URL is rediss|\(if that port serves TLS/.test(detail) ? detail : undefined;
        }, 'readyz to name the mismatch', 20_000, 200),
      ),
    );
    expect(plainOnTls).toMatch(/ECONNRESET \(if that port serves TLS, REDIS_URL takes rediss:\/\/\)$/);
    expect(tlsOnPlain).toMatch(/ETIMEDOUT \(REDIS_URL is rediss:\/\/, so the connection speaks TLS: does that port serve TLS\? A plain Redis takes redis:\/\/\)$/);
  } finally {
    await Promise.all(mismatched.map((each) => each.stop()));
  }
});
