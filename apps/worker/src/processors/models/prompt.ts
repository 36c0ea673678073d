import type { InferencePayload } from '@conveyor/shared';
import { NonRetryableError } from '../non-retryable-error.js';

/** The prompt of a request to a model that reads text; a missing or blank one is the caller's error. */
export function requirePrompt(request: InferencePayload): string {
  const prompt = request.prompt?.trim();
  if (!prompt) throw new NonRetryableError(`model "${request.model}" needs a non-empty "prompt": the text to work on`, 'INVALID_PARAMS');
  return prompt;
}
