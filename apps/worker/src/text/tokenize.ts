/** Splitting text into sentences and words, for any language written with spaces. */

const sentenceEnd = /(?<=[.!?。！？])["'”’)\]]*\s+(?=["'“‘(\[]*[\p{Lu}\p{Lo}\d])/u;

// Titles and abbreviations that end with a point without ending the sentence ("Dr. Smith"),
// and single-letter initials ("J. R. R. Tolkien").
const abbreviation = /(?:^|[\s(])(?:mr|mrs|ms|dr|prof|sr|jr|st|mt|vs|etc|inc|corp|ltd|co|fig|gen|gov|sen|rep|rev|capt|col|lt|sgt|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.$/iu;
const initial = /(?:^|[\s(])\p{Lu}\.$/u;

/** Sentences in order, trimmed, with inner whitespace folded. */
export function splitSentences(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .flatMap((paragraph) => joinAbbreviations(paragraph.replace(/\s+/g, ' ').trim().split(sentenceEnd)))
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 0);
}

function joinAbbreviations(pieces: string[]): string[] {
  const sentences: string[] = [];
  for (const piece of pieces) {
    const previous = sentences.at(-1);
    if (previous !== undefined && (abbreviation.test(previous) || initial.test(previous))) sentences[sentences.length - 1] = `${previous} ${piece}`;
    else sentences.push(piece);
  }
  return sentences;
}

/** Lower-cased words: runs of letters and digits, with inner apostrophes and hyphens. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu) ?? [];
}
