import { createRedis } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';

/**
 * Prometheus text format: `name{label="value",...} number` lines, HELP/TYPE comments. Throws on
 * anything else. Prometheus reads NaN in any case: prom-client writes `Nan` for the event-loop lag's
 * mean when two scrapes come within one 100 ms sample of each other.
 */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|[Nn][Aa][Nn]|\+Inf|-Inf)$/.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return samples;
}

const prefix = uniquePrefix('metrics');
let api: ApiProcess;
let worker: WorkerProcess;

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix }), startWorker({ redisUrl, prefix, env: { MAINTENANCE_INTERVAL: '100ms' } })]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

test("a worker's job counters are there at 0 from the start, for every stage it serves", async () => {
  // Before any job: the first failure must show as an increase, not as a new series.
  const fresh = parsePrometheus(await (await fetch(`http://127.0.0.1:${worker.healthPort}/metrics`)).text());
  for (const stage of ['inference",stage="infer', 'documents",stage="extract', 'documents",stage="embed']) {
    for (const counter of ['completed', 'failed', 'retried', 'dead', 'reclaimed']) {
      expect(fresh.get(`conveyor_jobs_${counter}_total{queue="${stage}"}`), `${counter} ${stage}`).toBe(0);
    }
  }
});

test('/metrics on the API and on the worker parse as Prometheus text, and their counters match the workload', async () => {
  const post = (body: object) => fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const fast = { type: 'fixed', delay_ms: 20, max_delay_ms: 20 };
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push(((await (await post({ model: 'echo', prompt: `ok ${i}` })).json()) as { job_id: string }).job_id);
  for (let i = 0; i < 5; i++) ids.push(((await (await post({ model: 'echo', params: { fail: 1 }, backoff: fast })).json()) as { job_id: string }).job_id);
  for (let i = 0; i < 3; i++) ids.push(((await (await post({ model: 'echo', params: { fail: 'always' }, max_attempts: 2, backoff: fast })).json()) as { job_id: string }).job_id);
  expect((await post({ model: 'nope' })).status).toBe(400);
  await waitFor(async () => {
    const statuses = await Promise.all(ids.map(async (id) => ((await (await fetch(`${api.url}/jobs/${id}`)).json()) as { status: string }).status));
    return statuses.filter((s) => s === 'completed').length === 25 && statuses.filter((s) => s === 'dead').length === 3;
  }, 'the workload to settle');

  const apiMetrics = parsePrometheus(await (await fetch(`${api.url}/metrics`)).text());
  expect(apiMetrics.get('conveyor_jobs_enqueued_total{queue="inference"}')).toBe(28);
  expect(apiMetrics.get('conveyor_http_requests_total{method="POST",route="/jobs",status="202"}')).toBe(28);
  expect(apiMetrics.get('conveyor_http_requests_total{method="POST",route="/jobs",status="400"}')).toBe(1);
  expect(apiMetrics.get('conveyor_stage_waiting{queue="inference",stage="infer"}')).toBe(0);
  expect(apiMetrics.get('conveyor_stage_pending{queue="inference",stage="infer"}')).toBe(0);
  expect(apiMetrics.get('conveyor_stage_live_consumers{queue="inference",stage="infer"}')).toBe(1);
  expect(apiMetrics.get('conveyor_queue_dead{queue="inference"}')).toBe(3);
  expect(apiMetrics.get('conveyor_http_request_duration_seconds_count{method="POST",route="/jobs"}')).toBe(29);

  const workerResponse = await fetch(`http://127.0.0.1:${worker.healthPort}/metrics`);
  expect(workerResponse.headers.get('content-type')).toMatch(/^text\/plain/);
  const workerMetrics = parsePrometheus(await workerResponse.text());
  const labels = '{queue="inference",stage="infer"}';
  expect(workerMetrics.get(`conveyor_jobs_completed_total${labels}`)).toBe(25);
  expect(workerMetrics.get(`conveyor_jobs_failed_total${labels}`)).toBe(5 + 3 * 2);
  expect(workerMetrics.get(`conveyor_jobs_retried_total${labels}`)).toBe(5 + 3);
  expect(workerMetrics.get(`conveyor_jobs_dead_total${labels}`)).toBe(3);
  expect(workerMetrics.get(`conveyor_job_wait_seconds_count${labels}`)).toBe(25 + 5 + 6);
  expect(workerMetrics.get('conveyor_job_duration_seconds_count{queue="inference",stage="infer",outcome="completed"}')).toBe(25);
  expect(workerMetrics.get('conveyor_job_duration_seconds_count{queue="inference",stage="infer",outcome="failed"}')).toBe(11);
  expect(workerMetrics.get('conveyor_jobs_in_flight')).toBe(0);
  const elsewhere = await fetch(`http://127.0.0.1:${worker.healthPort}/nope`);
  expect(elsewhere.status).toBe(404);
  expect(elsewhere.headers.get('content-type')).toBe('application/problem+json');
  expect(await elsewhere.json()).toMatchObject({ status: 404, detail: 'This listener serves /healthz, /readyz and /metrics.' });
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    expect((await fetch(`http://127.0.0.1:${worker.healthPort}${path}`, { method: 'HEAD' })).status, path).toBe(200);
    const posted = await fetch(`http://127.0.0.1:${worker.healthPort}${path}`, { method: 'DELETE' });
    expect(posted.status, path).toBe(405);
    expect(posted.headers.get('allow')).toBe('GET, HEAD');
    expect(await posted.json()).toMatchObject({ status: 405, detail: `${path} takes GET and HEAD, not DELETE.` });
  }
  // No job IDs in labels: every label value is a queue, stage, route, method, status or outcome.
  for (const name of [...apiMetrics.keys(), ...workerMetrics.keys()]) expect(name).not.toMatch(/inference:[0-9A-Z]{26}/);
});
