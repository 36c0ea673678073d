import type { EnqueueLimits, LostEntryPolicy, TakeRequest } from '@conveyor/shared';

/** What tests enqueue with: a minute of idempotency, no backlog limit. */
export const TEST_LIMITS: EnqueueLimits = { idempotencyTtlSeconds: 60, maxBacklog: 0 };

/** What tests renew and release with: the default 3 attempts, records kept a minute. */
export const TEST_POLICY: LostEntryPolicy = { defaultMaxAttempts: 3, retentionSeconds: 60 };

/** A take of the `inference` queue's first stage by consumer `c1`, every lane, up to 10 jobs; override any part. */
export function takeRequest(overrides: Partial<TakeRequest> = {}): TakeRequest {
  return { stage: 'infer', previousStage: '', consumer: 'c1', count: 10, defaultMaxAttempts: 3, retentionSeconds: 60, maxStalls: 5, lanes: ['high', 'normal', 'low'], ...overrides };
}
