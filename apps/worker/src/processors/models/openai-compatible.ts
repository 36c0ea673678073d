import type { WorkerConfig } from '@conveyor/shared';
import type { Model } from './model.js';

/** Models served by an OpenAI-compatible endpoint (OPENAI_BASE_URL), by name. */
export function openAiCompatibleModels(_config: WorkerConfig): Map<string, Model> {
  return new Map();
}
