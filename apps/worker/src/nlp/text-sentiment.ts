import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { chunksOf } from '../text/chunk-text.js';
import type { Sentiment } from './sentiment.js';
import { sentimentOf } from './sentiment.js';
import { englishNlp, WINK_CHUNK_CHARACTERS } from './wink.js';

/** The sentiment of an English text of any length: the mean of its sentences' scores. */
export async function textSentiment(text: string, signal?: AbortSignal): Promise<Sentiment & { sentence_count: number }> {
  const nlp = await englishNlp.get();
  let sum = 0;
  let sentences = 0;
  for (const chunk of chunksOf(text, WINK_CHUNK_CHARACTERS)) {
    signal?.throwIfAborted();
    const doc = nlp.readDoc(chunk);
    const count = doc.sentences().length();
    sum += (doc.out(nlp.its.sentiment) as unknown as number) * count;
    sentences += count;
    await yieldToEventLoop();
  }
  return { ...sentimentOf(sentences > 0 ? sum / sentences : 0), sentence_count: sentences };
}
