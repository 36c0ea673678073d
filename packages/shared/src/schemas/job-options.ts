import { z } from 'zod';

/** Per-job overrides of the queue's retry and timeout defaults, within limits. */
export const backoffSchema = z
  .object({
    type: z.enum(['exponential', 'fixed']).default('exponential').describe('exponential doubles the delay after each failure'),
    delay_ms: z.number().int().min(0).max(3_600_000).default(1_000).describe('delay before the first retry'),
    max_delay_ms: z.number().int().min(0).max(86_400_000).default(300_000).describe('cap on any one delay'),
  })
  .strict();
export type Backoff = z.output<typeof backoffSchema>;

export const jobOptionsSchema = z.object({
  max_attempts: z.number().int().min(1).max(100).optional().describe('attempts per stage before the job is dead-lettered'),
  timeout_ms: z.number().int().min(1).max(86_400_000).optional().describe('an attempt running longer than this fails'),
  backoff: backoffSchema.optional(),
});
export type JobOptions = z.output<typeof jobOptionsSchema>;
