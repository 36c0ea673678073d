/** Splitting text into sentences and words, for any language written with spaces. */

const sentenceEnd = /(?<=[.!?。！？])["'”’)\]]*\s+(?=["'“‘(\[]*[\p{Lu}\p{Lo}\d])/u;

/** Sentences in order, trimmed, with inner whitespace folded. */
export function splitSentences(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .flatMap((paragraph) => paragraph.replace(/\s+/g, ' ').trim().split(sentenceEnd))
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 0);
}

/** Lower-cased words: runs of letters and digits, with inner apostrophes and hyphens. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu) ?? [];
}
