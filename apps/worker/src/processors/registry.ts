import type { WorkerConfig } from '@conveyor/shared';
import { analyze } from './analyze.js';
import { embed } from './embed.js';
import { createExtract } from './extract.js';
import { createInfer } from './infer.js';
import { createModels } from './models/registry.js';
import type { Processor } from './processor.js';
import { summarize } from './summarize.js';

/** MAX_DOCUMENT_TEXT, or when unset MAX_DOCUMENT_BYTES: a text file is never more characters than bytes. */
export function documentTextLimit(config: Pick<WorkerConfig, 'MAX_DOCUMENT_TEXT' | 'MAX_DOCUMENT_BYTES'>): number {
  return config.MAX_DOCUMENT_TEXT ?? config.MAX_DOCUMENT_BYTES;
}

/** Processors by stage name; a pipeline's stages name the processors that run them. */
export function createProcessors(config: WorkerConfig): ReadonlyMap<string, Processor> {
  return new Map<string, Processor>([
    ['infer', createInfer(createModels(config))],
    ['extract', createExtract({ memory: config.DOCUMENT_READ_MEMORY, timeoutMs: config.DOCUMENT_READ_TIMEOUT, maxTextLength: documentTextLimit(config) })],
    ['analyze', analyze],
    ['summarize', summarize],
    ['embed', embed],
  ]);
}
