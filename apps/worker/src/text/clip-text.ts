import { graphemeBoundary } from './code-points.js';

/**
 * `text` when it has at most `max` characters; else its start and '…', `max` characters at most.
 * The cut goes at the last whitespace before the limit when there is one within a tenth of it (a
 * word is rarely longer; further back, the cut would drop more than a word), else at the limit,
 * or just before it where the limit falls inside a character as a reader sees it (an accent, an
 * emoji sequence): text without spaces (Japanese, a base64 run) has none.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const limit = max - 1;
  const from = limit - Math.floor(max / 10);
  // A whitespace just at the limit is a clean cut as well: it is the first character left out.
  const space = text.slice(from, limit + 1).search(/\s\S*$/u);
  const end = space >= 0 ? from + space : graphemeBoundary(text, limit);
  return `${text.slice(0, end).trimEnd()}…`;
}
