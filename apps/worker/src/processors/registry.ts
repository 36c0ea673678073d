import type { Processor } from './processor.js';
import { extract } from './extract.js';
import { infer } from './infer.js';
import { summarize } from './summarize.js';

/** Processors by stage name; a pipeline's stages name the processors that run them. */
export const processors: ReadonlyMap<string, Processor> = new Map<string, Processor>([
  ['infer', infer],
  ['extract', extract],
  ['summarize', summarize],
]);
