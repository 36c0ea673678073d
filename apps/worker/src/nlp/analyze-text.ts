import type { ItemToken, ItsFunction } from 'wink-nlp';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { STOPWORDS } from '../text/stopwords.js';
import { chunksOf } from '../text/chunk-text.js';
import { EventLoopTurns } from '../text/event-loop-turns.js';
import { UNSPACED_SCRIPT } from '../text/segment-words.js';
import { countSentences, countWords, wordsOf } from '../text/tokenize.js';
import { entitiesOf } from './entities.js';
import type { Keyword, TermCounts } from './keywords.js';
import { countTerm, topKeywords } from './keywords.js';
import type { DetectedLanguage } from './language.js';
import { languageOf } from './language.js';
import type { Sentiment } from './sentiment.js';
import { sentimentOf } from './sentiment.js';
import { wordRanks } from './vocabulary.js';
import { englishNlp, WINK_CHUNK_CHARACTERS } from './wink.js';

export interface CountedEntity {
  text: string;
  type: string;
  count: number;
}

export interface TextAnalysis {
  language: DetectedLanguage;
  word_count: number;
  sentence_count: number;
  keywords: Keyword[];
  /** Most frequent first; English only (empty for other languages). */
  entities: CountedEntity[];
  /** English only: null for other languages, which the sentiment model cannot read. */
  sentiment: Sentiment | null;
}

const MAX_KEYWORDS = 10;
const MAX_ENTITIES = 50;
// Words this frequent are common nouns when they start a sentence ("Consumer groups…"), not names.
const COMMON_WORD_RANK = 20_000;
const KEYWORD_POS: ReadonlySet<string> = new Set(['NOUN', 'PROPN']);
// Words, not abbreviations ("corp.", "dr.") or symbols.
const KEYWORD_SHAPE = /^\p{L}[\p{L}\p{N}]*(?:['’-][\p{L}\p{N}]+)*$/u;
// Shorter words of alphabets are mostly function words ("with", "dans"); in Chinese and Japanese
// most words are two characters (東京, 首都), and a one-character word is mostly a particle.
const MIN_TERM_CHARACTERS = 4;
const MIN_UNSPACED_TERM_CHARACTERS = 2;
// Japanese words all in hiragana are particles, endings and auxiliaries (です, ます, から).
const HIRAGANA_ONLY = /^[\p{sc=Hiragana}ー]+$/u;
/**
 * The longest entity counted: the longest run of characters the models are given (see
 * chunk-text.ts), a URL or an e-mail address. A longer "name" is a run of capitalized words,
 * thousands of them in a table or a heading in capitals, and was carried whole.
 */
const MAX_ENTITY_CHARACTERS = 256;

/** Language, size, keywords, entities and sentiment of a text. */
export async function analyzeText(text: string, signal?: AbortSignal): Promise<TextAnalysis> {
  const language = await languageOf(text);
  const base = { language, word_count: await countWords(text, signal), sentence_count: await countSentences(text, signal) };
  const ranks = await wordRanks.get();
  if (language.code !== 'en') {
    const terms: TermCounts = new Map();
    const turns = new EventLoopTurns(signal);
    for (const word of wordsOf(text)) {
      // French and Italian elisions: "d'intelligence" is "intelligence".
      const term = word.replace(/^\p{L}{1,2}['’]/u, '');
      if (isOtherLanguageKeyword(term)) countTerm(terms, term);
      if (turns.due()) await turns.take();
    }
    return { ...base, keywords: topKeywords(terms, ranks, MAX_KEYWORDS), entities: [], sentiment: null };
  }

  const nlp = await englishNlp.get();
  const its = nlp.its;
  const terms: TermCounts = new Map();
  const entities = new Map<string, CountedEntity>();
  let sentimentSum = 0;
  let sentences = 0;
  for (const chunk of chunksOf(text, WINK_CHUNK_CHARACTERS)) {
    signal?.throwIfAborted();
    const doc = nlp.readDoc(chunk);
    doc.tokens().each((token: ItemToken) => {
      if (token.out(its.type) !== 'word' || token.out(its.stopWordFlag) === true) return;
      const pos = token.out(its.pos) as string;
      if (!KEYWORD_POS.has(pos)) return;
      const term = (pos === 'NOUN' ? (token.out(its.lemma as unknown as ItsFunction<string>) as string) : (token.out(its.normal) as string)).toLowerCase();
      if (term.length >= 3 && !STOPWORDS.has(term) && KEYWORD_SHAPE.test(term)) countTerm(terms, term);
    });
    for (const { text: entityText, type } of entitiesOf(doc, its, (word) => (ranks.get(word) ?? Infinity) < COMMON_WORD_RANK)) {
      if (entityText.length > MAX_ENTITY_CHARACTERS) continue;
      const key = `${type}\u0000${entityText}`;
      const seen = entities.get(key);
      if (seen) seen.count++;
      else entities.set(key, { text: entityText, type, count: 1 });
    }
    const chunkSentences = doc.sentences().length();
    sentimentSum += (doc.out(its.sentiment) as unknown as number) * chunkSentences;
    sentences += chunkSentences;
    await yieldToEventLoop();
  }
  // A stable sort keeps first occurrence order among equal counts.
  const rankedEntities = [...entities.values()].sort((a, b) => b.count - a.count).slice(0, MAX_ENTITIES);
  return {
    ...base,
    keywords: topKeywords(terms, ranks, MAX_KEYWORDS),
    entities: rankedEntities,
    sentiment: sentimentOf(sentences > 0 ? sentimentSum / sentences : 0),
  };
}

/** Whether a word of a text not in English may be a keyword: long enough for its script, not a function word. */
function isOtherLanguageKeyword(term: string): boolean {
  if (!/\p{L}/u.test(term) || STOPWORDS.has(term)) return false;
  if (!UNSPACED_SCRIPT.test(term)) return term.length >= MIN_TERM_CHARACTERS;
  return term.length >= MIN_UNSPACED_TERM_CHARACTERS && !HIRAGANA_ONLY.test(term);
}
