import { STOPWORDS } from './stopwords.js';
import { splitSentences, words } from './tokenize.js';

/**
 * Extractive summary: the `count` sentences most central to the text, in their original order.
 * A sentence's score is the cosine similarity of its TF-IDF vector (sentences as documents)
 * with the whole text's, so sentences that carry the text's recurring terms rank high.
 */
export function summarizeText(text: string, count = 3): string[] {
  const sentences = splitSentences(text);
  if (sentences.length <= count) return sentences;

  const bags = sentences.map((sentence) => words(sentence).filter((word) => !STOPWORDS.has(word) && word.length > 1));
  const documentFrequency = new Map<string, number>();
  for (const bag of bags) for (const word of new Set(bag)) documentFrequency.set(word, (documentFrequency.get(word) ?? 0) + 1);

  const idf = (word: string) => Math.log(1 + sentences.length / (documentFrequency.get(word) ?? 1));
  const vectors = bags.map((bag) => {
    const vector = new Map<string, number>();
    for (const word of bag) vector.set(word, (vector.get(word) ?? 0) + idf(word));
    return vector;
  });
  const centroid = new Map<string, number>();
  for (const vector of vectors) for (const [word, weight] of vector) centroid.set(word, (centroid.get(word) ?? 0) + weight);

  const norm = (vector: Map<string, number>) => Math.sqrt([...vector.values()].reduce((sum, w) => sum + w * w, 0));
  const centroidNorm = norm(centroid);
  const scores = vectors.map((vector, index) => {
    const length = norm(vector);
    if (length === 0 || centroidNorm === 0) return { index, score: 0 };
    let dot = 0;
    for (const [word, weight] of vector) dot += weight * (centroid.get(word) ?? 0);
    // Very short sentences (headings, fragments) rarely make a useful summary line.
    const brevityPenalty = Math.min(1, bags[index]!.length / 5);
    return { index, score: (dot / (length * centroidNorm)) * brevityPenalty };
  });

  return scores
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, count)
    .sort((a, b) => a.index - b.index)
    .map(({ index }) => sentences[index]!);
}
