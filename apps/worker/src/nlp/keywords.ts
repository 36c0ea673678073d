import type { WordRanks } from './vocabulary.js';
import { informationContent } from './vocabulary.js';

/**
 * Keywords by TF-IDF, with general-English word ranks standing in for document frequencies
 * (see vocabulary.ts): a term scores its count in the document times its information content,
 * so a word repeated in the document but rare in English ranks first.
 */
export interface Keyword {
  term: string;
  /** Occurrences in the document. */
  count: number;
  /** Relative to the best keyword's, which scores 1. */
  score: number;
}

/** Term counts, added to chunk by chunk. */
export type TermCounts = Map<string, number>;

/**
 * The longest term counted. No word is longer; a longer "term" is a run without spaces (base64,
 * a hash, a URL), and the keywords carried the longest of them whole: a one-word text of 20 MiB
 * came back as its own keyword.
 */
export const MAX_TERM_CHARACTERS = 40;

export function countTerm(counts: TermCounts, term: string): void {
  if (term.length > MAX_TERM_CHARACTERS) return;
  counts.set(term, (counts.get(term) ?? 0) + 1);
}

export function topKeywords(counts: TermCounts, ranks: WordRanks, limit = 10): Keyword[] {
  const scored = [...counts].map(([term, count]) => ({ term, count, raw: count * informationContent(ranks, term) }));
  scored.sort((a, b) => b.raw - a.raw || a.term.localeCompare(b.term));
  const best = scored[0]?.raw ?? 1;
  return scored.slice(0, limit).map(({ term, count, raw }) => ({ term, count, score: Math.round((raw / best) * 1000) / 1000 }));
}
