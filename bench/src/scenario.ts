import type { Redis } from 'ioredis';
import type { Sizes } from './sizes.js';

/** What every scenario gets: the benchmark's Redis, how much to do, and a line printer for progress. */
export interface BenchContext {
  redisUrl: string;
  /** A plain connection for FLUSHALL and INFO between phases. */
  admin: Redis;
  sizes: Sizes;
  progress(message: string): void;
}

/** One of the targets: ours against a peer (or an absolute bound), and whether it was met. */
export interface Comparison {
  scenario: string;
  measure: string;
  ours: string;
  peer: string;
  /** ours / peer, in the direction the measure reads (e.g. throughput, or latency where lower is better). */
  ratio: number | null;
  target: string;
  met: boolean | null;
}

export interface ScenarioResult {
  scenario: string;
  /** Every measured figure, for the JSON file. */
  figures: Record<string, unknown>;
  comparisons: Comparison[];
}

/** The seed's example job (`user_id, model, prompt, priority`), with a model every worker runs. */
export const SEED_JOB = { user_id: '12345', model: 'echo', prompt: 'Summarize this document...', priority: 'normal' } as const;

/** Empties the benchmark's Redis, so each phase starts from the same state. */
export async function flush(ctx: BenchContext): Promise<void> {
  await ctx.admin.flushall();
}

export function formatNumber(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
