import { getHeapStatistics } from 'node:v8';
import { NonRetryableError } from '../processors/non-retryable-error.js';
import { unpackedSize } from './zip-entries.js';

/**
 * The most a DOCX may unpack to: a quarter of the reader's heap (DOCUMENT_READ_MEMORY and V8's
 * young generation: 76 MiB for the default 256 MiB). Its parts are unpacked outside the heap,
 * where the heap limit does not count them; and reading them takes several times their size in
 * the heap, so a document past this would not fit there anyway.
 */
const unpackLimit = () => Math.floor(getHeapStatistics().heap_size_limit / 4);

/** An element of mammoth's document tree, as far as its text goes. */
interface DocxElement {
  type: string;
  value?: string;
  children?: DocxElement[];
}

/** The text of mammoth's tree: its extractRawText, but for a line break, which is a line break here. */
function rawText(element: DocxElement): string {
  if (element.type === 'text') return element.value ?? '';
  if (element.type === 'tab') return '\t';
  if (element.type === 'break') return '\n';
  const text = (element.children ?? []).map(rawText).join('');
  return element.type === 'paragraph' ? `${text}\n\n` : text;
}

/** The text of a Word (DOCX) document, one paragraph per block, line breaks kept, via mammoth. */
export async function docxText(bytes: Buffer, limit = unpackLimit()): Promise<string> {
  let size: number | undefined;
  try {
    size = unpackedSize(bytes, limit);
  } catch (error) {
    throw new NonRetryableError(`the Word document could not be read: ${(error as Error).message}`, 'UNSUPPORTED_DOCUMENT');
  }
  if (size === undefined) {
    throw new NonRetryableError(
      `the Word document unpacks to more than ${Math.round(limit / 1024 / 1024)} MiB, a quarter of the reader's heap (DOCUMENT_READ_MEMORY; reading it would take several times that); it was not unpacked`,
      'DOCUMENT_TOO_LARGE',
    );
  }
  const { default: mammoth } = await import('mammoth');
  try {
    // mammoth's extractRawText drops line breaks (Shift+Enter, `<w:br/>`): "Jane Smith<br/>42
    // Harbor Road" read as "Jane Smith42 Harbor Road". The document tree is read here instead, and
    // emptied before mammoth would turn it into HTML, which is not wanted.
    let text = '';
    await mammoth.convertToHtml(
      { buffer: bytes },
      {
        transformDocument: (document: DocxElement) => {
          text = rawText(document);
          return { ...document, children: [] };
        },
      },
    );
    return text;
  } catch (error) {
    // Its first line, on one line: the XML parser's messages run on with tabs and a position line.
    const reason = (error as Error).message.split('\n')[0]!.replace(/\s+/g, ' ').trim();
    throw new NonRetryableError(`the Word document could not be read: ${reason}`, 'UNSUPPORTED_DOCUMENT');
  }
}
