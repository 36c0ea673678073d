import { clipText } from './clip-text.js';
import { EventLoopTurns } from './event-loop-turns.js';
import { STOPWORDS } from './stopwords.js';
import { sentencesOf, wordsOf } from './tokenize.js';

/**
 * Extractive summary: the `count` sentences most central to the text, in their original order.
 * A sentence's score is the cosine similarity of its TF-IDF vector (sentences as documents)
 * with the whole text's, so sentences that carry the text's recurring terms rank high.
 *
 * The text is read twice, a sentence at a time (document frequencies and counts, then each
 * sentence's score), keeping two entries per distinct word and the best `count` sentences: a
 * long document's sentences are never all held at once with a vector each (for 20 MB of text
 * that was 200,000 maps, ten times the text's size), and giving the event loop its turns (see
 * EventLoopTurns); it stops when `signal` aborts.
 *
 * Each sentence is given whole up to MAX_SENTENCE_CHARACTERS, then cut (see clipText).
 */
export async function summarizeText(text: string, count = 3, signal?: AbortSignal): Promise<string[]> {
  const turns = new EventLoopTurns(signal);
  const firstSentences: string[] = [];
  let sentenceCount = 0;
  const documentFrequency = new Map<string, number>();
  const occurrences = new Map<string, number>();
  for (const sentence of sentencesOf(text)) {
    if (sentenceCount++ < count) firstSentences.push(sentence);
    const bag = await bagOf(sentence, turns);
    for (const word of bag) occurrences.set(word, (occurrences.get(word) ?? 0) + 1);
    for (const word of new Set(bag)) documentFrequency.set(word, (documentFrequency.get(word) ?? 0) + 1);
    if (turns.due()) await turns.take();
  }
  if (sentenceCount <= count) return firstSentences.map(clipped);

  const idf = (word: string) => Math.log(1 + sentenceCount / (documentFrequency.get(word) ?? 1));
  const vectorOf = (bag: string[]) => {
    const vector = new Map<string, number>();
    for (const word of bag) vector.set(word, (vector.get(word) ?? 0) + idf(word));
    return vector;
  };
  // The sum of the sentences' vectors is each word's occurrences times its IDF: no need to read
  // the text a third time (cutting Chinese or Japanese into words takes about a second per MB).
  const centroid = new Map<string, number>();
  for (const [word, times] of occurrences) centroid.set(word, times * idf(word));

  const norm = (vector: Map<string, number>) => Math.sqrt([...vector.values()].reduce((sum, w) => sum + w * w, 0));
  const centroidNorm = norm(centroid);
  const ranked = (a: Scored, b: Scored) => b.score - a.score || a.index - b.index;
  const best: Scored[] = [];
  let index = 0;
  for (const sentence of sentencesOf(text)) {
    const bag = await bagOf(sentence, turns);
    const vector = vectorOf(bag);
    const length = norm(vector);
    let score = 0;
    if (length !== 0 && centroidNorm !== 0) {
      let dot = 0;
      for (const [word, weight] of vector) dot += weight * (centroid.get(word) ?? 0);
      // Very short sentences (headings, fragments) rarely make a useful summary line.
      const brevityPenalty = Math.min(1, bag.length / 5);
      score = (dot / (length * centroidNorm)) * brevityPenalty;
    }
    const scored = { index: index++, score, sentence };
    if (best.length < count || (best.length > 0 && ranked(scored, best.at(-1)!) < 0)) {
      best.push(scored);
      best.sort(ranked);
      if (best.length > count) best.pop();
    }
    if (turns.due()) await turns.take();
  }
  return best.sort((a, b) => a.index - b.index).map(({ sentence }) => clipped(sentence));
}

/**
 * The longest summary sentence given whole. A text with no sentence end for pages (a base64 run,
 * a table, a script whose ends are not known here) is one long "sentence": given whole, it made
 * the summary, and each stored copy of it, as long as the text.
 */
export const MAX_SENTENCE_CHARACTERS = 1_000;

const clipped = (sentence: string) => clipText(sentence, MAX_SENTENCE_CHARACTERS);

interface Scored {
  index: number;
  score: number;
  sentence: string;
}

/**
 * The words of a sentence that carry meaning: no stopwords, no single characters. Read with the
 * walk's turns: in a text with few sentence ends a "sentence" runs to 192K characters, and
 * cutting one in Chinese or Japanese into words took 0.1–0.3 s, so a walk that looked at the clock
 * between sentences only held the event loop for the whole stage (11.6 s for 20 MB).
 */
async function bagOf(sentence: string, turns: EventLoopTurns): Promise<string[]> {
  const bag: string[] = [];
  for (const word of wordsOf(sentence)) {
    if (word.length > 1 && !STOPWORDS.has(word)) bag.push(word);
    if (turns.due()) await turns.take();
  }
  return bag;
}
