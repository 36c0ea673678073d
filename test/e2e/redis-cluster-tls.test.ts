import { freePort, makeTlsCertificates, startApi, startWorker, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';

/**
 * `rediss://` on Redis Cluster, as managed clusters run: every node speaks TLS only, the slot map
 * names nodes by IP address, and their certificate (from a private CA) names a host, not an IP.
 * The API and a worker are given the host name and must check every node's certificate against it.
 */
const dir = mkdtempSync(join(tmpdir(), 'conveyor-cluster-tls-'));
const nodes: ChildProcess[] = [];
let api: ApiProcess;
let worker: WorkerProcess;

beforeAll(async () => {
  // A host name only: a connection to a node by its IP address passes only if it checks the name.
  const { ca, cert, key } = makeTlsCertificates(dir, 'DNS:localhost');
  const tls = { ca: readFileSync(ca), servername: 'localhost' };
  const ports: number[] = [];
  const busPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [port, busPort] = [await freePort(), await freePort()];
    ports.push(port);
    busPorts.push(busPort);
    nodes.push(
      spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', mkdtempSync(join(dir, 'node-')), '--save', '', '--appendonly', 'no',
        '--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--tls-cluster', 'yes', '--cluster-node-timeout', '2000',
        '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', ca, '--tls-auth-clients', 'no'], { stdio: 'ignore' }),
    );
  }
  const clients = ports.map((port) => new Redis({ host: '127.0.0.1', port, tls, lazyConnect: true, retryStrategy: () => 100 }));
  try {
    await waitFor(async () => (await Promise.all(clients.map((client) => client.ping().catch(() => '')))).every((reply) => reply === 'PONG'), 'the TLS nodes');
    const share = Math.ceil(16_384 / 3);
    await Promise.all(clients.map((client, i) => client.call('CLUSTER', 'ADDSLOTSRANGE', i * share, Math.min(16_384, (i + 1) * share) - 1)));
    for (let i = 1; i < 3; i++) await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', ports[i]!, busPorts[i]!);
    await waitFor(async () => (await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO') as Promise<string>))).every((info) => /cluster_state:ok/.test(info) && /cluster_known_nodes:3\b/.test(info)), 'the TLS cluster', 20_000);
  } finally {
    clients.forEach((client) => client.disconnect());
  }
  const redisUrl = `rediss://localhost:${ports[0]}`;
  const env = { REDIS_CLUSTER: 'true', NODE_EXTRA_CA_CERTS: ca };
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix: 'conveyor', env }), startWorker({ redisUrl, prefix: 'conveyor', env })]);
}, 60_000);

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  for (const node of nodes) node.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

test('the API and a worker reach every node of a TLS cluster by the URL host name and run jobs of every queue', async () => {
  const posted = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"over tls on a cluster"}' });
  expect(posted.status).toBe(202);
  const form = new FormData();
  form.append('file', new Blob(['A document through four stages on a TLS cluster.']), 'tls.txt');
  const uploaded = await fetch(`${api.url}/documents`, { method: 'POST', body: form });
  expect(uploaded.status).toBe(202);
  const ids = [((await posted.json()) as { job_id: string }).job_id, ((await uploaded.json()) as { job_id: string }).job_id];
  const jobs = await waitFor(async () => {
    const bodies = await Promise.all(ids.map(async (id) => (await (await fetch(`${api.url}/jobs/${id}`)).json()) as { status: string; result?: unknown }));
    return bodies.every((body) => body.status === 'completed') && bodies;
  }, 'the jobs to complete');
  expect(jobs[0]!.result).toEqual({ model: 'echo', text: 'over tls on a cluster' });
  const metrics = await (await fetch(`${api.url}/metrics`)).text();
  expect(metrics).toMatch(/^conveyor_stage_waiting\{queue="documents",stage="embed"\} 0$/m);
});
