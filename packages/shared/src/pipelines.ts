/**
 * Pipelines: each queue is an ordered list of stages. A stage is its own stream per lane and
 * its own consumer group, so each stage scales on its own. A plain queue is a pipeline of one
 * stage. This is the one place pipelines are declared; the API and the workers both read it.
 */


export type PipelineInput = 'json' | 'document';

export interface Pipeline {
  /** The queue name: the hash tag of all its keys and the prefix of its job IDs. */
  readonly name: string;
  /** What `POST` accepts for it: JSON jobs (`POST /jobs`) or uploads (`POST /documents`). */
  readonly input: PipelineInput;
  /** Stage names in order; each names the processor that runs it. */
  readonly stages: readonly string[];
  /** Defaults for this queue's jobs; a job may set its own (within limits), MAX_ATTEMPTS otherwise. */
  readonly maxAttempts?: number;
  /** An attempt running longer than this fails; none when unset. */
  readonly timeoutMs?: number;
  /** Set on a partition of a queue (see partitions.ts): which queue, and which partition. */
  readonly partition?: { readonly queue: string; readonly index: number };
}

export const PIPELINES: readonly Pipeline[] = [
  // Inference may legitimately run for many minutes: no default timeout; leases keep it safe.
  { name: 'inference', input: 'json', stages: ['infer'] },
  // The seeds' document pipeline; each stage is its own stream and group, scaled on its own.
  { name: 'documents', input: 'document', stages: ['extract', 'analyze', 'summarize', 'embed'], timeoutMs: 600_000 },
  // A cheaper choice per upload (POST /documents pipeline=document-summary): text and summary only.
  { name: 'document-summary', input: 'document', stages: ['extract', 'summarize'], timeoutMs: 600_000 },
];

const byName = new Map(PIPELINES.map((pipeline) => [pipeline.name, pipeline]));

/** A declared pipeline by its queue name; `findPipeline` (partitions.ts) also knows partitions. */
export function findDeclaredPipeline(name: string): Pipeline | undefined {
  return byName.get(name);
}

export function firstStage(pipeline: Pipeline): string {
  return pipeline.stages[0]!;
}

/** The stage after `stage`, or '' when `stage` is the last. */
export function nextStage(pipeline: Pipeline, stage: string): string {
  const index = pipeline.stages.indexOf(stage);
  return pipeline.stages[index + 1] ?? '';
}

/** The stage before `stage`, or '' when `stage` is the first. */
export function previousStage(pipeline: Pipeline, stage: string): string {
  const index = pipeline.stages.indexOf(stage);
  return index > 0 ? pipeline.stages[index - 1]! : '';
}
