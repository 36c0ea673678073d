/**
 * `at`, or one less when a cut there would split a surrogate pair (a character outside the Basic
 * Multilingual Plane: most emoji, rarer Han characters): each half alone is not a character, and
 * JSON.stringify writes it as an escape.
 */
export function codePointBoundary(text: string, at: number): number {
  const before = text.charCodeAt(at - 1);
  const after = text.charCodeAt(at);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff ? at - 1 : at;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * The last place at or before `at` where a cut leaves whole characters as a reader sees them: not
 * between a letter and its combining accent (`e` + U+0301), inside an emoji sequence joined by
 * U+200D (a family, a flag), nor before a skin tone or a variation selector. Only the 64 UTF-16
 * units before `at` are looked at (a longer cluster, which no script writes, is cut at a code point).
 */
export function graphemeBoundary(text: string, at: number): number {
  const from = Math.max(0, at - 64);
  let boundary = from;
  // The whole code point at `at` is looked at (a surrogate pair), to tell whether it extends the character before it.
  for (const { index } of graphemes.segment(text.slice(from, at + 2))) {
    if (from + index > at) break;
    boundary = from + index;
  }
  return boundary === from && from > 0 ? codePointBoundary(text, at) : boundary;
}
