import { freePort, startApi, startWorker, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';

/**
 * `rediss://` end to end: a redis-server that speaks TLS only, with a certificate from a private
 * CA, and the API and a worker that trust that CA through NODE_EXTRA_CA_CERTS (as the README says).
 */
const dir = mkdtempSync(join(tmpdir(), 'conveyor-tls-'));
const ca = join(dir, 'ca.pem');
let redis: ChildProcess;
let url: string;
let api: ApiProcess;
let worker: WorkerProcess;

function openssl(...args: string[]): void {
  const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${run.error?.message ?? run.stderr}`);
}

beforeAll(async () => {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=conveyor-test-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
  const port = await freePort();
  redis = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    '--tls-cert-file', 'server.pem', '--tls-key-file', 'server.key', '--tls-ca-cert-file', 'ca.pem', '--tls-auth-clients', 'no'], { cwd: dir, stdio: 'ignore' });
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
