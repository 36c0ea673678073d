import type { WorkerConfig } from '@conveyor/shared';
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
