import { redisTest as test, takeRequest, TEST_LIMITS, TEST_POLICY, testLease, TEST_PIPELINES } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import {
  cancelJob,
  completeStage,
  enqueueJobs,
  ensureGroups,
  failAttempt,
  findLostJobs,
  LANES,
  newJobId,
  promoteDueJobs,
  QueueKeys,
  reclaimStale,
  releaseJobs,
  renewLeases,
  retryDeadJob,
  takeJobs,
  WALK_START,
  type WalkPosition,
  type NewJob,
  type TakenJob,
} from '../src/index.js';

/**
 * Every transition script, called in a random order by three workers on a one-stage and a
 * two-stage queue, while another client deletes and trims stream entries (XDEL, XTRIM MAXLEN) at
 * random, and walks for lost jobs run between them. Then the deleting stops and the jobs are
 * drained. No job may start while another attempt of it is current, every job must end
 * (completed, dead or cancelled), and the queued and active indexes must be empty.
 */
const QUEUES = ['inference', 'docs'] as const;
const CONSUMERS = ['c1', 'c2', 'c3'] as const;
const STEPS = 600;

/** A small deterministic random source, so that a failing seed can be run again. */
function randomSource(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const stagesOf = (queue: string) => TEST_PIPELINES.find((pipeline) => pipeline.name === queue)!.stages;
const previousOf = (queue: string, stage: string) => stagesOf(queue)[stagesOf(queue).indexOf(stage) - 1] ?? '';
const nextOf = (queue: string, stage: string) => stagesOf(queue)[stagesOf(queue).indexOf(stage) + 1] ?? '';
const requestFor = (queue: string, stage: string, consumer: string, count: number) =>
  takeRequest({ stage, previousStage: previousOf(queue, stage), firstStage: stagesOf(queue)[0]!, consumer, count });

/** Whether `job` is the attempt its record (or, without one, its active-index line) says runs now. */
async function isCurrent(redis: Redis, keys: QueueKeys, job: TakenJob): Promise<boolean> {
  const [status, entry, attempts] = await redis.hmget(keys.job(job.jobId), 'status', 'entry', 'attempts');
  if (status) return status === 'active' && entry === job.entryId && attempts === String(job.attempt);
  const line = await redis.hget(keys.active, `${job.stage}:${job.lane}:${job.entryId}`);
  return line !== null && line.startsWith(`${job.jobId} `) && job.attempt === 1;
}

for (const seed of [1, 2, 3]) {
  test(`with entries deleted at random under every transition (seed ${seed}), no job runs twice at once, every job ends, and the indexes end empty`, { timeout: 60_000 }, async ({ redis, prefix }) => {
    const random = randomSource(seed);
    const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keysOf = Object.fromEntries(QUEUES.map((queue) => [queue, new QueueKeys(prefix, queue)])) as Record<string, QueueKeys>;
    const held = new Map<string, TakenJob[]>(CONSUMERS.map((consumer) => [consumer, []]));
    const jobs: { id: string; queue: string }[] = [];
    const walks: Record<string, WalkPosition> = { inference: WALK_START, docs: WALK_START };
    const violations: string[] = [];

    const allHeld = () => [...held.values()].flat();
    const drop = (job: TakenJob) => {
      for (const [consumer, list] of held) held.set(consumer, list.filter((each) => each !== job));
    };
    const finish = (job: TakenJob) => completeStage(redis, keysOf[job.queue]!, job, '{"ok":true}', nextOf(job.queue, job.stage), 60);

    async function take(consumer: string, queue: string, stage: string, count: number) {
      const current = new Set<string>();
      for (const job of allHeld()) if (await isCurrent(redis, keysOf[job.queue]!, job)) current.add(job.jobId);
      const { jobs: taken } = await takeJobs(redis, keysOf[queue]!, requestFor(queue, stage, consumer, count));
      for (const job of taken) if (current.has(job.jobId)) violations.push(`${job.jobId} started while another attempt of it was current`);
      held.get(consumer)!.push(...taken);
    }

    async function enqueue(queue: string) {
      const job: NewJob = { id: newJobId(queue), lane: pick(LANES), payload: '{"model":"echo","prompt":"p"}' };
      if (queue === 'docs') Object.assign(job, { payload: '{"filename":"a.txt","content_type":"text/plain","size":1}', document: Buffer.from('x') });
      if (random() < 0.2) job.runAt = Date.now() + 5;
      if (queue === 'inference' && random() < 0.2) Object.assign(job, { idempotencyKey: `key-${Math.floor(random() * 5)}`, fingerprint: 'same' });
      const outcome = await enqueueJobs(redis, keysOf[queue]!, stagesOf(queue)[0]!, [job], TEST_LIMITS);
      if (outcome.ok && outcome.jobs[0]!.created) jobs.push({ id: job.id, queue });
    }

    async function deleteEntries(queue: string, stage: string) {
      const stream = keysOf[queue]!.stream(stage, pick(LANES));
      if (random() < 0.5) {
        const entries = await redis.xrange(stream, '-', '+');
        if (entries.length > 0) await redis.xdel(stream, pick(entries)[0]);
      } else await redis.xtrim(stream, 'MAXLEN', Math.floor(random() * 3));
    }

    async function step() {
      const roll = random();
      const queue = pick(QUEUES);
      const keys = keysOf[queue]!;
      const stage = pick(stagesOf(queue));
      const consumer = pick(CONSUMERS);
      const mine = held.get(consumer)!.filter((job) => job.queue === queue);
      if (roll < 0.15) await enqueue(queue);
      else if (roll < 0.35) await take(consumer, queue, stage, 1 + Math.floor(random() * 3));
      else if (roll < 0.5) {
        if (allHeld().length === 0) return;
        const job = pick(allHeld());
        drop(job);
        await finish(job);
      } else if (roll < 0.57) {
        if (allHeld().length === 0) return;
        const job = pick(allHeld());
        drop(job);
        await failAttempt(redis, keysOf[job.queue]!, job, { message: 'x', retryable: true, stage: job.stage, attempt: job.attempt, at: Date.now() }, 0, 3, 60);
      } else if (roll < 0.62) {
        if (mine.length === 0) return;
        held.set(consumer, held.get(consumer)!.filter((job) => job.queue !== queue));
        await releaseJobs(redis, keys, consumer, mine, 60_000, TEST_POLICY);
      } else if (roll < 0.67) {
        for (const job of await renewLeases(redis, keys, consumer, mine, TEST_POLICY, testLease())) drop(job);
      } else if (roll < 0.72) {
        held.get(consumer)!.push(...(await reclaimStale(redis, keys, requestFor(queue, stage, consumer, 2), 0)).jobs);
      } else if (roll < 0.76) {
        if (jobs.length === 0) return;
        const job = pick(jobs);
        await cancelJob(redis, keysOf[job.queue]!, job.id, stagesOf(job.queue)[0]!, 60, 'control');
      } else if (roll < 0.86) await deleteEntries(queue, stage);
      else if (roll < 0.93) walks[queue] = await findLostJobs(redis, keys, stagesOf(queue)[0]!, walks[queue]!, 60, 3);
      else if (roll < 0.97) {
        await new Promise((resolve) => setTimeout(resolve, 6));
        await promoteDueJobs(redis, keys, 60);
      } else if (jobs.length > 0) {
        const job = pick(jobs);
        await retryDeadJob(redis, keysOf[job.queue]!, job.id);
      }
    }

    for (let i = 0; i < STEPS; i++) await step();

    // Nothing is deleted any more: workers take over, walk and take until every job has ended.
    const unfinished = async () => {
      const left: string[] = [];
      for (const { id, queue } of jobs) {
        const status = await redis.hget(keysOf[queue]!.job(id), 'status');
        if (!['completed', 'dead', 'cancelled'].includes(status ?? '')) left.push(`${id} ${status}`);
      }
      return left;
    };
    for (let round = 0; round < 50 && (await unfinished()).length > 0; round++) {
      await new Promise((resolve) => setTimeout(resolve, 6));
      for (const queue of QUEUES) {
        const keys = keysOf[queue]!;
        await promoteDueJobs(redis, keys, 60);
        let position = WALK_START;
        do position = await findLostJobs(redis, keys, stagesOf(queue)[0]!, position, 60, 3);
        while (position.cursor !== '0' || position.resume !== '');
        for (const stage of stagesOf(queue)) {
          held.get('c1')!.push(...(await reclaimStale(redis, keys, requestFor(queue, stage, 'c1', 50), 0)).jobs);
          await take('c1', queue, stage, 50);
        }
      }
      for (const job of allHeld()) {
        drop(job);
        await finish(job);
      }
    }

    expect(violations).toEqual([]);
    expect(jobs.length).toBeGreaterThan(50);
    expect(await unfinished()).toEqual([]);
    for (const queue of QUEUES) {
      expect(await redis.hgetall(keysOf[queue]!.queued)).toEqual({});
      expect(await redis.hgetall(keysOf[queue]!.active)).toEqual({});
    }
  });
}
