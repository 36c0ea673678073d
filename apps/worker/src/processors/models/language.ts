import { requirePrompt } from '@conveyor/shared';
import { languageOf } from '../../nlp/language.js';
import type { Model } from './model.js';

/**
 * `language`: the language of the prompt. Output: { model, language: ISO 639-1 code or null when
 * the text gives nothing to go on (digits, symbols), confidence: 0..1, reliable }.
 */
export const language: Model = async (request) => {
  const prompt = requirePrompt(request);
  const { code, confidence, reliable } = await languageOf(prompt);
  return { model: 'language', language: code, confidence, reliable };
};
