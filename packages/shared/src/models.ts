import type { z } from 'zod';
import type { apiEnvSchema } from './config.js';
import { paramsOf } from './model-input.js';

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
  /** The `params` keys it reads; POST /jobs refuses others. */
  params: string[];
}

const builtinDescriptions: Record<BuiltinModel, string> = {
  echo: 'returns the prompt; sleep_ms makes it slow, fail and fail_until make it fail, progress reports progress halfway: for tests and benchmarks',
  sentiment: 'sentiment of the prompt: a score from -1 to 1 and a label',
  summarize: 'extractive summary of the prompt (sentences: how many, 1 to 20, default 3)',
  embed: '100-dimensional unit vector of the prompt, from word embeddings',
  language: 'the language of the prompt (ISO 639-1) with a confidence',
};

type ModelSettings = Pick<z.output<typeof apiEnvSchema>, 'OPENAI_CHAT_MODELS' | 'OPENAI_EMBEDDING_MODELS'>;


export function modelCatalogue(settings: ModelSettings): ModelEntry[] {
  const entry = (name: string, kind: ModelKind, description: string): ModelEntry => ({ name, kind, description, params: [...paramsOf(kind, name)] });
  return [
    ...BUILTIN_MODELS.map((name) => entry(name, 'builtin', builtinDescriptions[name])),
    ...settings.OPENAI_CHAT_MODELS.map((name) => entry(name, 'chat', 'chat completion at OPENAI_BASE_URL')),
    ...settings.OPENAI_EMBEDDING_MODELS.map((name) => entry(name, 'embedding', 'embeddings at OPENAI_BASE_URL')),
  ];
}
