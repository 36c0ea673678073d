import type { WorkerConfig } from '@conveyor/shared';
import type { Model } from './model.js';
import { createChatModel } from './openai/chat-model.js';
import { createEmbeddingModel } from './openai/embedding-model.js';
import type { Endpoint } from './openai/endpoint.js';

/**
 * Models served by an OpenAI-compatible endpoint (OPENAI_BASE_URL: vLLM, Ollama, a hosted API),
 * by name: one per name in OPENAI_CHAT_MODELS and OPENAI_EMBEDDING_MODELS, as the API's
 * catalogue lists them.
 */
export function openAiCompatibleModels(config: WorkerConfig): Map<string, Model> {
  const models = new Map<string, Model>();
  // The config refuses model names without a base URL, so this only skips an unconfigured adapter.
  if (config.OPENAI_BASE_URL === undefined) return models;
  const endpoint: Endpoint = {
    baseUrl: config.OPENAI_BASE_URL,
    apiKey: config.OPENAI_API_KEY,
    timeoutMs: config.OPENAI_TIMEOUT_MS,
  };
  for (const name of config.OPENAI_CHAT_MODELS) models.set(name, createChatModel(endpoint));
  for (const name of config.OPENAI_EMBEDDING_MODELS) models.set(name, createEmbeddingModel(endpoint));
  return models;
}
