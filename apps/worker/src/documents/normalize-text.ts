import { EventLoopTurns } from '../text/event-loop-turns.js';

/** What a line may end with that is dropped: spaces, tabs, form and vertical feeds, no-break spaces. */
const TRAILING = new Set([0x20, 0x09, 0x0c, 0x0b, 0xa0]);

/** Characters of text normalized at once, up to the next line end: a text file can be 20 MiB. */
const WINDOW = 64 * 1024;

/**
 * Extracted text in one shape whatever the format: NFC, "\n" line ends, no trailing spaces,
 * paragraphs separated by exactly one blank line, no leading or trailing blank lines, and no NUL
 * (U+0000: a PDF glyph without a Unicode mapping reads as one, and stores such as PostgreSQL's
 * `text` refuse it).
 *
 * Linear in the text's length: trailing spaces are cut by scanning each line from its end. A
 * regular expression such as /[ \t]+$/gm backtracks through every run of spaces once per position
 * in it, so a file of 160 kB of spaces and one letter took 45 s.
 *
 * Done a window of whole lines at a time, giving the event loop its turns (see EventLoopTurns):
 * a 20 MB text file, read in the worker's own thread, held it 0.5 s at once. No rule looks across
 * a line feed (NFC composes nothing with one), so the windows give what the whole text would.
 */
export async function normalizeText(text: string, signal?: AbortSignal): Promise<string> {
  const turns = new EventLoopTurns(signal, 1);
  const parts: string[] = [];
  // Line feeds the text normalized so far ends with (at most 2), for a run that goes on in the next window.
  let endingLineFeeds = 0;
  for (let start = 0; start < text.length; ) {
    const lineEnd = text.indexOf('\n', start + WINDOW);
    const end = lineEnd === -1 ? text.length : lineEnd + 1;
    let part = normalizeLines(text.slice(start, end)).replace(/\n{3,}/g, '\n\n');
    start = end;
    // No leading blank lines: the text starts at its first non-space.
    if (parts.length === 0) part = part.trimStart();
    const leading = leadingLineFeeds(part);
    if (leading > 0) part = '\n'.repeat(Math.min(leading, 2 - endingLineFeeds)) + part.slice(leading);
    if (part.length > 0) {
      parts.push(part);
      const ending = trailingLineFeeds(part);
      endingLineFeeds = ending === part.length ? endingLineFeeds + ending : ending;
    }
    if (turns.due()) await turns.take();
  }
  // No trailing blank lines or spaces, however many windows they take.
  while (parts.length > 0 && parts.at(-1)!.trimEnd() === '') parts.pop();
  if (parts.length > 0) parts[parts.length - 1] = parts.at(-1)!.trimEnd();
  return parts.join('');
}

/** Whole lines (the last may lack its line end) normalized, but for blank-line runs and the text's ends. */
function normalizeLines(lines: string): string {
  return lines
    .replace(/\u0000/g, '')
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map(trimLineEnd)
    .join('\n')
    .replace(/\u00a0/g, ' ');
}

function leadingLineFeeds(text: string): number {
  let count = 0;
  while (count < text.length && text.charCodeAt(count) === 0x0a) count += 1;
  return count;
}

function trailingLineFeeds(text: string): number {
  let count = 0;
  while (count < text.length && text.charCodeAt(text.length - 1 - count) === 0x0a) count += 1;
  return count;
}

function trimLineEnd(line: string): string {
  let end = line.length;
  while (end > 0 && TRAILING.has(line.charCodeAt(end - 1))) end -= 1;
  return end === line.length ? line : line.slice(0, end);
}
