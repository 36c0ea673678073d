import type { z } from 'zod';
import type { apiEnvSchema } from './config.js';

/**
 * The models `POST /jobs` accepts: the built-in local ones, which every worker runs with no
 * network and no download, and the ones served by an OpenAI-compatible endpoint (vLLM, Ollama,
 * a hosted API) named in OPENAI_CHAT_MODELS and OPENAI_EMBEDDING_MODELS. The API and the
 * workers read the same settings, so a model the API accepts is one the workers can run.
 */
export const BUILTIN_MODELS = ['echo', 'sentiment', 'summarize', 'embed', 'language'] as const;
export type BuiltinModel = (typeof BUILTIN_MODELS)[number];

export type ModelKind = 'builtin' | 'chat' | 'embedding';

export interface ModelEntry {
  name: string;
  kind: ModelKind;
  description: string;
}

const builtinDescriptions: Record<BuiltinModel, string> = {
  echo: 'returns the prompt (params: sleep_ms, fail, fail_until), for tests and benchmarks',
  sentiment: 'sentiment of the prompt: a score from -1 to 1 and a label',
  summarize: 'extractive summary of the prompt (params: sentences)',
  embed: '100-dimensional unit vector of the prompt, from word embeddings',
  language: 'the language of the prompt (ISO 639-1) with a confidence',
};

type ModelSettings = Pick<z.output<typeof apiEnvSchema>, 'OPENAI_CHAT_MODELS' | 'OPENAI_EMBEDDING_MODELS'>;


export function modelCatalogue(settings: ModelSettings): ModelEntry[] {
  return [
    ...BUILTIN_MODELS.map((name) => ({ name, kind: 'builtin' as const, description: builtinDescriptions[name] })),
    ...settings.OPENAI_CHAT_MODELS.map((name) => ({ name, kind: 'chat' as const, description: 'chat completion at OPENAI_BASE_URL' })),
    ...settings.OPENAI_EMBEDDING_MODELS.map((name) => ({ name, kind: 'embedding' as const, description: 'embeddings at OPENAI_BASE_URL' })),
  ];
}
