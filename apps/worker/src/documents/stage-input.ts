import { NonRetryableError } from '../processors/non-retryable-error.js';
import type { ProcessorHelpers } from '../processors/processor.js';

/**
 * What a documents stage after `extract` works from: the previous stage's output, and the
 * document's text. The text is stored once, in extract's output; later stages read it from there
 * instead of passing it forward, so a large document's text is not kept in every stage's output.
 */
export async function stageText(input: unknown, helpers: Pick<ProcessorHelpers, 'stageOutput'>, stage: string): Promise<{ previous: Record<string, unknown>; text: string }> {
  if (typeof input !== 'object' || input === null) {
    throw new NonRetryableError(`the ${stage} stage needs the output of the stage before it, and got none: a document's jobs start at the first stage (POST /documents), not at an entry added to a later stage's stream`, 'INVALID_INPUT');
  }
  const { text, ...previous } = input as Record<string, unknown>;
  if (typeof text === 'string') return { previous, text };
  const extracted = await helpers.stageOutput('extract');
  const stored = typeof extracted === 'object' && extracted !== null ? (extracted as { text?: unknown }).text : undefined;
  if (typeof stored !== 'string') throw new NonRetryableError(`the ${stage} stage needs the extracted text, and the extract output has none`, 'INVALID_INPUT');
  return { previous, text: stored };
}
