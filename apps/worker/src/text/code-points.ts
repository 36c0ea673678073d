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
