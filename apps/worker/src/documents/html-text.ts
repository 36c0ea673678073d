import { Parser } from 'htmlparser2';

/**
 * The readable text of an HTML page: scripts, styles, the title and the head dropped, entities
 * decoded, one blank line between blocks (paragraphs, headings, list items, table rows), line
 * breaks kept for <br>, whitespace kept inside <pre>. The head ends where HTML5 ends it when
 * `</head>` and `<body>` are left out: at the first element that cannot be in a head, or text.
 */

/** What a head holds; any other element, or text that shows, starts the body. */
const HEAD_CONTENT: ReadonlySet<string> = new Set(['base', 'link', 'meta', 'noscript', 'script', 'style', 'template', 'title']);
const SKIPPED: ReadonlySet<string> = new Set(['title', 'script', 'style', 'noscript', 'template', 'svg', 'math', 'iframe', 'object', 'select', 'canvas']);
const BLOCKS: ReadonlySet<string> = new Set([
  'address', 'article', 'aside', 'blockquote', 'body', 'caption', 'dd', 'details', 'div', 'dl', 'dt', 'fieldset', 'figcaption',
  'figure', 'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'li', 'main', 'nav', 'ol', 'p', 'pre',
  'section', 'summary', 'table', 'tbody', 'thead', 'tfoot', 'tr', 'ul',
]);
const CELLS: ReadonlySet<string> = new Set(['td', 'th']);

export function htmlText(html: string): string {
  const blocks: string[] = [];
  let current = '';
  let skipping = 0;
  let inHead = false;
  let preformatted = 0;
  const endBlock = () => {
    const block = current
      .split('\n')
      .map((line) => line.trim())
      .join('\n')
      .trim();
    if (block) blocks.push(block);
    current = '';
  };
  const parser = new Parser(
    {
      onopentag(name) {
        if (name === 'head') return void (inHead = true);
        // The body ends the head even when the page never closed it.
        if (name === 'body') skipping = 0;
        if (inHead && (name === 'body' || !HEAD_CONTENT.has(name))) inHead = false;
        if (SKIPPED.has(name)) skipping++;
        else if (inHead) return;
        else if (skipping > 0) return;
        else if (BLOCKS.has(name)) endBlock();
        else if (name === 'br') current += '\n';
        else if (CELLS.has(name) && current && !current.endsWith(' ')) current += ' ';
        if (name === 'pre') preformatted++;
      },
      ontext(text) {
        if (skipping > 0) return;
        if (inHead) {
          if (!/\S/.test(text)) return;
          inHead = false;
        }
        current += preformatted > 0 ? text : text.replace(/[ \t\n\r\f]+/g, ' ');
      },
      onclosetag(name) {
        if (name === 'head') inHead = false;
        else if (SKIPPED.has(name)) skipping = Math.max(0, skipping - 1);
        else if (skipping === 0 && BLOCKS.has(name)) endBlock();
        if (name === 'pre') preformatted = Math.max(0, preformatted - 1);
      },
    },
    { decodeEntities: true, lowerCaseTags: true, recognizeSelfClosing: true },
  );
  parser.write(html);
  parser.end();
  endBlock();
  return blocks.join('\n\n');
}
