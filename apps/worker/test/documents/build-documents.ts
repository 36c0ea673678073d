import { NonRetryableError } from '../../src/processors/non-retryable-error.js';
import JSZip from 'jszip';
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import { createLogger } from '@conveyor/shared';
import type { ProcessorHelpers } from '../../src/processors/processor.js';

/** Test documents built in code (PDF, DOCX) or read from ./fixtures (HTML, Markdown, text). */

export function fixture(name: string): Promise<Buffer> {
  return readFile(new URL(`./fixtures/${name}`, import.meta.url));
}

/**
 * A minimal valid PDF: one page per entry, each line of a page a Helvetica text line (a real
 * text layer). An empty page has no text at all, like a scan without OCR.
 */
export function buildPdf(pages: string[][]): Buffer {
  const escape = (line: string) => line.replace(/[\\()]/g, (c) => `\\${c}`);
  return pdfOfPages(
    pages.map((lines) => ({ stream: Buffer.from(lines.length === 0 ? '0 0 m 100 100 l S' : `BT /F1 12 Tf 72 720 Td 14 TL ${lines.map((line) => `(${escape(line)}) '`).join(' ')} ET`, 'latin1') })),
  );
}

/**
 * A one-page PDF whose content stream (Flate, as real PDFs compress theirs) unpacks to
 * `expandedBytes` of text operators, from a few hundred times fewer bytes in the file.
 */
export function buildExpandingPdf(expandedBytes: number): Buffer {
  const line = 'BT /F1 12 Tf 72 720 Td (AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA) Tj ET\n';
  const stream = deflateSync(Buffer.from(line.repeat(Math.ceil(expandedBytes / line.length)), 'latin1'), { level: 9 });
  return pdfOfPages([{ stream, filter: 'FlateDecode' }]);
}

function pdfOfPages(pages: Array<{ stream: Buffer; filter?: string }>): Buffer {
  const objects: Buffer[] = [];
  const add = (body: string | Buffer) => objects.push(Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1'));
  add(''); // 1: catalog, filled in below
  add(''); // 2: page tree
  add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'); // 3
  const kids: number[] = [];
  for (const { stream, filter } of pages) {
    const content = add(Buffer.concat([Buffer.from(`<< /Length ${stream.length}${filter ? ` /Filter /${filter}` : ''} >>\nstream\n`, 'latin1'), stream, Buffer.from('\nendstream', 'latin1')]));
    kids.push(add(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${content} 0 R >>`));
  }
  objects[0] = Buffer.from('<< /Type /Catalog /Pages 2 0 R >>', 'latin1');
  objects[1] = Buffer.from(`<< /Type /Pages /Kids [${kids.map((kid) => `${kid} 0 R`).join(' ')}] /Count ${kids.length} >>`, 'latin1');
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n', 'latin1')];
  let length = parts[0]!.length;
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(length);
    const object = Buffer.concat([Buffer.from(`${index + 1} 0 obj\n`, 'latin1'), body, Buffer.from('\nendobj\n', 'latin1')]);
    parts.push(object);
    length += object.length;
  });
  const trailer = `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('')}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`;
  return Buffer.concat([...parts, Buffer.from(trailer, 'latin1')]);
}

/** A minimal valid DOCX (what Word needs to open it): one paragraph per entry. */
export async function buildDocx(paragraphs: string[]): Promise<Buffer> {
  const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return docxOf(paragraphs.map((text) => `<w:p><w:r><w:t xml:space="preserve">${xml(text)}</w:t></w:r></w:p>`).join(''));
}

/**
 * A DOCX whose document part (Deflate, as Word compresses it) unpacks to about `expandedBytes` of
 * XML, from a few hundred times fewer bytes in the file.
 */
export function buildExpandingDocx(expandedBytes: number): Promise<Buffer> {
  const paragraph = '<w:p><w:r><w:t>The quick brown fox jumps over the lazy dog, again and again.</w:t></w:r></w:p>';
  return docxOf(paragraph.repeat(Math.ceil(expandedBytes / paragraph.length)), 'DEFLATE');
}

/** A DOCX whose document body is `body`, WordprocessingML as given. */
export function docxOf(body: string, compression: 'STORE' | 'DEFLATE' = 'STORE'): Promise<Buffer> {
  const zip = new JSZip();
  zip.file(
    '[Content_Types].xml',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
  );
  zip.file(
    '_rels/.rels',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
  );
  zip.file('word/document.xml', `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}</w:body></w:document>`);
  return zip.generateAsync({ type: 'nodebuffer', compression, compressionOptions: { level: 9 } });
}

/** A ZIP that is not a Word document. */
export async function buildZip(): Promise<Buffer> {
  const zip = new JSZip();
  zip.file('readme.txt', 'just a file');
  return zip.generateAsync({ type: 'nodebuffer' });
}

const logger = createLogger('test', 'silent');

/**
 * What the job runner hands a processor, for a documents job whose bytes are `bytes`; earlier
 * stages' outputs come from `outputs`, and progress reports are collected in `progress`.
 */
export function stageHelpers(
  options: { bytes?: Buffer; input?: unknown; stage?: string; signal?: AbortSignal; outputs?: Record<string, unknown>; progress?: [number, string][] } = {},
): ProcessorHelpers {
  return {
    job: { id: 'documents:test', queue: 'documents', stage: options.stage ?? 'extract', attempt: 1, maxAttempts: 3, createdAt: new Date() },
    input: options.input,
    logger,
    signal: options.signal ?? new AbortController().signal,
    document: async () => options.bytes ?? Buffer.alloc(0),
    stageOutput: async (stage) => {
      // As the job runner does when the record has no such output.
      if (!options.outputs || !(stage in options.outputs)) throw new NonRetryableError(`the output of stage "${stage}" is gone`, 'INVALID_INPUT');
      return options.outputs[stage];
    },
    progress: async (percent, message = '') => void options.progress?.push([percent, message]),
  };
}

export function documentPayload(filename: string, contentType: string, bytes: Buffer) {
  return { filename, content_type: contentType, size: bytes.length, sha256: 'test' };
}
