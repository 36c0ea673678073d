import type { Document, ItemEntity, ItemSentence, ItemToken, ItsHelpers } from 'wink-nlp';
import { GIVEN_NAMES, ORGANIZATION_WORDS, PERSON_TITLES, PLACES } from './entity-gazetteer.js';

/**
 * Named entities of an English text. From wink's model: DATE, TIME, DURATION, MONEY, PERCENT,
 * EMAIL, URL, HASHTAG, MENTION, EMOJI, EMOTICON (its CARDINAL and ORDINAL, bare numbers, are left
 * out as noise). From runs of proper nouns, sorted by the cues in entity-gazetteer.ts: PERSON,
 * ORGANIZATION, PLACE, and PROPER_NOUN when no cue applies.
 */
export interface Entity {
  text: string;
  type: string;
}

const IGNORED_TYPES: ReadonlySet<string> = new Set(['CARDINAL', 'ORDINAL']);
// Joins proper nouns into one name: "Bank of America", "Rio de Janeiro".
const CONNECTORS: ReadonlySet<string> = new Set(['of', 'de', 'du', 'da', 'la', 'van', 'von', 'del', 'and']);

interface WordToken {
  value: string;
  lower: string;
  pos: string;
}

/**
 * Entities in the order they occur in `doc`. `isCommonWord` (lower-case word) lets a capitalized
 * common word at the start of a sentence, which the tagger often takes for a name, be dropped.
 */
export function entitiesOf(doc: Document, its: ItsHelpers, isCommonWord: (word: string) => boolean = () => false): Entity[] {
  const found: Array<Entity & { at: number }> = [];
  const inModelEntity = new Set<number>();
  doc.entities().each((entity: ItemEntity) => {
    const tokens = entity.tokens();
    for (let k = 0; k < tokens.length(); k++) inModelEntity.add(tokens.itemAt(k).index());
    const { type } = entity.out(its.detail) as { type: string };
    if (!IGNORED_TYPES.has(type)) found.push({ text: entity.out().trim(), type, at: tokens.itemAt(0).index() });
  });

  const tokens: WordToken[] = [];
  doc.tokens().each((token: ItemToken) => {
    const value = token.out();
    tokens.push({ value, lower: value.toLowerCase(), pos: inModelEntity.has(token.index()) ? 'ENTITY' : (token.out(its.pos) as string) });
  });
  const sentenceStarts = new Set<number>();
  doc.sentences().each((sentence: ItemSentence) => sentenceStarts.add(sentence.tokens().itemAt(0).index()));
  for (const run of properNounRuns(tokens)) {
    const before = tokens[run.start - 1];
    const words = tokens.slice(run.start, run.end).map((token) => token.value);
    const type = classify(words, before?.lower);
    if (type === 'PROPER_NOUN' && words.length === 1 && sentenceStarts.has(run.start) && isCommonWord(words[0]!.toLowerCase())) continue;
    found.push({ text: words.join(' '), type, at: run.start });
  }
  return found.sort((a, b) => a.at - b.at).map(({ text, type }) => ({ text, type }));
}

/** Runs of PROPN tokens, joined across connectors between two proper nouns; titles split off. */
function properNounRuns(tokens: WordToken[]): Array<{ start: number; end: number }> {
  const runs: Array<{ start: number; end: number }> = [];
  let i = 0;
  while (i < tokens.length) {
    if (tokens[i]!.pos !== 'PROPN') {
      i++;
      continue;
    }
    let start = i;
    let end = i + 1;
    for (;;) {
      if (tokens[end]?.pos === 'PROPN') end++;
      else if (CONNECTORS.has(tokens[end]?.lower ?? '') && tokens[end + 1]?.pos === 'PROPN') end += 2;
      else break;
    }
    // "Dr. Jane Smith": the title is a cue, not part of the name.
    while (start < end - 1 && PERSON_TITLES.has(tokens[start]!.lower)) start++;
    if (!(end - start === 1 && PERSON_TITLES.has(tokens[start]!.lower))) runs.push({ start, end });
    i = end;
  }
  return runs;
}

function classify(words: string[], previous: string | undefined): string {
  const lower = words.map((word) => word.toLowerCase());
  const name = lower.join(' ');
  if (PLACES.has(name)) return 'PLACE';
  if (ORGANIZATION_WORDS.has(lower.at(-1)!) || (lower.length > 2 && ORGANIZATION_WORDS.has(lower[0]!) && lower[1] === 'of')) return 'ORGANIZATION';
  if (previous !== undefined && PERSON_TITLES.has(previous)) return 'PERSON';
  if (lower.length >= 2 && lower.length <= 3 && GIVEN_NAMES.has(lower[0]!)) return 'PERSON';
  return 'PROPER_NOUN';
}
