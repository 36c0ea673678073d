/**
 * Extracted text in one shape whatever the format: NFC, "\n" line ends, no trailing spaces,
 * paragraphs separated by exactly one blank line, no leading or trailing blank lines.
 */
export function normalizeText(text: string): string {
  return text
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .replace(/[\u00a0\t\f\v ]+$/gm, '')
    .replace(/\u00a0/g, ' ')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
