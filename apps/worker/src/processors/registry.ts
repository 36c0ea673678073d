import type { WorkerConfig } from '@conveyor/shared';
import type { ServedStage } from '../worker-context.js';
import { analyze } from './analyze.js';
import { embed } from './embed.js';
import { createExtract } from './extract.js';
import { createInfer } from './infer.js';
import { createModels } from './models/registry.js';
import type { Processor } from './processor.js';
import { summarize } from './summarize.js';

/** Processors by stage name; a pipeline's stages name the processors that run them. */
export function createProcessors(config: WorkerConfig): ReadonlyMap<string, Processor> {
  return new Map<string, Processor>([
    ['infer', createInfer(createModels(config))],
    // Unset, MAX_DOCUMENT_TEXT is MAX_DOCUMENT_BYTES: a text file is never more characters than bytes.
    ['extract', createExtract({ memory: config.DOCUMENT_READ_MEMORY, timeoutMs: config.DOCUMENT_READ_TIMEOUT, maxTextLength: config.MAX_DOCUMENT_TEXT ?? config.MAX_DOCUMENT_BYTES })],
    ['analyze', analyze],
    ['summarize', summarize],
    ['embed', embed],
  ]);
}

/**
 * Refuses, at start, stages the worker would serve that no processor runs: declared in a pipeline
 * (packages/shared/src/pipelines.ts) but not registered above. Each of their jobs would be taken
 * and dead-lettered with NO_PROCESSOR.
 */
export function checkProcessors(stages: readonly ServedStage[], processors: ReadonlyMap<string, Processor>): void {
  const missing = [...new Set(stages.filter(({ stage }) => !processors.has(stage)).map(({ pipeline, stage }) => `${pipeline.name}:${stage}`))];
  if (missing.length === 0) return;
  throw new Error(
    `no processor is registered for ${missing.length === 1 ? 'stage' : 'stages'} ${missing.join(', ')}: register one per stage in apps/worker/src/processors/registry.ts (README, Documents and pipelines), or serve other stages (WORKER_STAGES)`,
  );
}
