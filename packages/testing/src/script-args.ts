import type { EnqueueLimits, LeaseName, LostEntryPolicy, Pipeline, TakeRequest } from '@conveyor/shared';

/** The queues the script tests run on: one of one stage for JSON jobs, one of two for documents. */
export const TEST_PIPELINES: readonly Pipeline[] = [
  { name: 'inference', input: 'json', stages: ['infer'] },
  { name: 'docs', input: 'document', stages: ['extract', 'summarize'] },
];

/** What tests enqueue with: a minute of idempotency, no backlog limit. */
export const TEST_LIMITS: EnqueueLimits = { idempotencyTtlSeconds: 60, maxBacklog: 0 };

/** What tests renew and release with: the default 3 attempts, records kept a minute. */
export const TEST_POLICY: LostEntryPolicy = { defaultMaxAttempts: 3, retentionSeconds: 60 };

/** The lease tests renew with, `leaseMs` (0: a takeover may take what was renewed at once), named a minute. */
export function testLease(leaseMs = 0): LeaseName {
  return { leaseMs, keepMs: 60_000 };
}

/** A take of the `inference` queue's first stage by consumer `c1`, every lane, up to 10 jobs; override any part. */
export function takeRequest(overrides: Partial<TakeRequest> = {}): TakeRequest {
  return { stage: 'infer', previousStage: '', consumer: 'c1', count: 10, defaultMaxAttempts: 3, retentionSeconds: 60, maxStalls: 5, lanes: ['high', 'normal', 'low'], ...overrides };
}
