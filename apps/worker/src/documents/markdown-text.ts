import { marked } from 'marked';
import { htmlText } from './html-text.js';

/**
 * The words of a Markdown document without its syntax: rendered to HTML by `marked` (CommonMark
 * and GitHub tables, fences, links), then read like any HTML page, so both agree on blocks,
 * entities and embedded HTML.
 */
export function markdownText(markdown: string): string {
  return htmlText(marked.parse(markdown, { async: false, gfm: true }));
}
