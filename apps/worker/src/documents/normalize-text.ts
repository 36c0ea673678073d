/** What a line may end with that is dropped: spaces, tabs, form and vertical feeds, no-break spaces. */
const TRAILING = new Set([0x20, 0x09, 0x0c, 0x0b, 0xa0]);

/**
 * Extracted text in one shape whatever the format: NFC, "\n" line ends, no trailing spaces,
 * paragraphs separated by exactly one blank line, no leading or trailing blank lines.
 *
 * Linear in the text's length: trailing spaces are cut by scanning each line from its end. A
 * regular expression such as /[ \t]+$/gm backtracks through every run of spaces once per position
 * in it, so a file of 160 kB of spaces and one letter took 45 s.
 */
export function normalizeText(text: string): string {
  return text
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map(trimLineEnd)
    .join('\n')
    .replace(/\u00a0/g, ' ')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function trimLineEnd(line: string): string {
  let end = line.length;
  while (end > 0 && TRAILING.has(line.charCodeAt(end - 1))) end -= 1;
  return end === line.length ? line : line.slice(0, end);
}
