import type { WorkerConfig } from '@conveyor/shared';
import { builtinModels } from './builtin.js';
import type { Model } from './model.js';
import { openAiCompatibleModels } from './openai-compatible.js';

/** Every model this worker runs, by name: the same names the API accepts (see modelCatalogue). */
export function createModels(config: WorkerConfig): ReadonlyMap<string, Model> {
  return new Map([...builtinModels, ...openAiCompatibleModels(config)]);
}
