import { NonRetryableError } from '../processors/non-retryable-error.js';

/**
 * The text layer of a PDF, page by page, via pdf.js (pdfjs-dist 5.4, the last line that runs on
 * Node 20; its legacy build is the one meant for Node). A PDF whose pages carry no text (a
 * scan) has nothing to read: OCR is not in scope.
 */
export interface PdfText {
  /** Pages separated by a blank line. */
  text: string;
  pageCount: number;
}

interface PositionedText {
  str: string;
  hasEOL: boolean;
  transform: number[];
}

/**
 * pdf.js keeps what it parsed of every page it has read (about 70 kB a page of plain text) until
 * the document is cleaned up: a 20 MiB PDF of 3,650 pages of text needed more than the reader's
 * default 256 MiB, and was read within 96 MiB once cleaned up every this many pages. A
 * cleanup also drops the fonts loaded so far, so it is not done after every page.
 */
const CLEANUP_PAGES = 200;

export async function pdfText(bytes: Buffer, signal: AbortSignal): Promise<PdfText> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  // pdf.js takes ownership of (detaches) the buffer it is given: hand it a copy.
  const task = pdfjs.getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, disableFontFace: true, useSystemFonts: false, verbosity: 0 });
  try {
    const document = await task.promise.catch((error: unknown) => {
      throw unreadable(error);
    });
    const pages: string[] = [];
    for (let number = 1; number <= document.numPages; number++) {
      signal.throwIfAborted();
      const page = await document.getPage(number);
      const content = await page.getTextContent();
      pages.push(pageText(content.items.filter((item): item is PositionedText & typeof item => 'str' in item)));
      page.cleanup();
      if (number % CLEANUP_PAGES === 0) await document.cleanup();
    }
    return { text: pages.join('\n\n'), pageCount: document.numPages };
  } finally {
    await task.destroy();
  }
}

/** Items in reading order; a new line where pdf.js marks one or the baseline moves. */
function pageText(items: PositionedText[]): string {
  let text = '';
  let baseline: number | undefined;
  for (const item of items) {
    const y = item.transform[5];
    if (baseline !== undefined && y !== undefined && Math.abs(y - baseline) > 1 && !text.endsWith('\n')) text += '\n';
    text += item.str;
    if (item.hasEOL) text += '\n';
    baseline = y;
  }
  return text;
}

function unreadable(error: unknown): NonRetryableError {
  const name = error instanceof Error ? error.name : '';
  const reason = name === 'PasswordException' ? 'it is encrypted with a password' : `it is damaged (${error instanceof Error ? error.message : String(error)})`;
  return new NonRetryableError(`the PDF cannot be read: ${reason}`, 'UNSUPPORTED_DOCUMENT');
}
