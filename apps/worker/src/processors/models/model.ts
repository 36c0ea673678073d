import type { InferencePayload } from '@conveyor/shared';
import type { ProcessorHelpers } from '../processor.js';

/** An inference model: what `POST /jobs {"model": ...}` runs. */
export type Model = (request: InferencePayload, helpers: ProcessorHelpers) => Promise<unknown>;
