import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import type { ExtractOutput } from '../../src/processors/extract.js';
import { readerProcessesStarted } from '../../src/documents/contained-read.js';
import { createExtract } from '../../src/processors/extract.js';
import { NonRetryableError } from '../../src/processors/non-retryable-error.js';
import { longestTurnGap } from '../event-loop-gap.js';
import { buildDocx, buildExpandingDocx, buildExpandingPdf, buildPdf, buildZip, documentPayload, docxOf, fixture, stageHelpers } from './build-documents.js';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

/** `zip` with the sizes its directory and local header give for `entry` set to `size`, as a crafted archive would. */
function withSizesOf(zip: Buffer, entry: string, size: number): Buffer {
  const copy = Buffer.from(zip);
  for (let at = copy.indexOf('PK\x01\x02'); at >= 0; at = copy.indexOf('PK\x01\x02', at + 4)) {
    if (copy.toString('utf8', at + 46, at + 46 + copy.readUInt16LE(at + 28)) !== entry) continue;
    copy.writeUInt32LE(size, at + 24);
    copy.writeUInt32LE(size, copy.readUInt32LE(at + 42) + 22);
  }
  return copy;
}
// The default DOCUMENT_READ_MEMORY, DOCUMENT_READ_TIMEOUT and MAX_DOCUMENT_TEXT.
const DEFAULT_LIMITS = { memory: 256 * 1024 * 1024, timeoutMs: 120_000, maxTextLength: 20 * 1024 * 1024 };
const extract = createExtract(DEFAULT_LIMITS);

async function extractFrom(filename: string, contentType: string, bytes: Buffer): Promise<ExtractOutput> {
  return (await extract(documentPayload(filename, contentType, bytes), stageHelpers({ bytes }))) as ExtractOutput;
}

async function extractionError(filename: string, contentType: string, bytes: Buffer): Promise<NonRetryableError> {
  const error = await extractFrom(filename, contentType, bytes).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(NonRetryableError);
  return error as NonRetryableError;
}

describe('extract', () => {
  test('a PDF yields the text of every page, in order, with its page count', async () => {
    const pdf = buildPdf([['Quarterly results (draft).', 'Revenue grew by 12 percent.'], ['Page two closes the report.']]);
    const output = await extractFrom('report.pdf', 'application/pdf', pdf);
    expect(output).toMatchObject({ detected_type: 'application/pdf', claimed_type: 'application/pdf', page_count: 2 });
    expect(output.text).toBe('Quarterly results (draft).\nRevenue grew by 12 percent.\n\nPage two closes the report.');
    expect(output.text_length).toBe(output.text.length);
    expect(output.word_count).toBe(13);
  });

  test('a DOCX yields its paragraphs separated by blank lines', async () => {
    const docx = await buildDocx(['Meeting notes', 'Revenue grew & costs fell.', 'Next meeting: Monday.']);
    const output = await extractFrom('notes.docx', DOCX, docx);
    expect(output.detected_type).toBe(DOCX);
    expect(output.text).toBe('Meeting notes\n\nRevenue grew & costs fell.\n\nNext meeting: Monday.');
    expect(output).not.toHaveProperty('page_count');
  });

  test('a DOCX keeps its line breaks (Shift+Enter) and tabs: words on either side of one do not run together', async () => {
    const docx = await docxOf(
      '<w:p><w:r><w:t>Jane Smith</w:t><w:br/><w:t>42 Harbor Road</w:t><w:br/><w:t>Springfield</w:t></w:r></w:p>' +
        '<w:p><w:r><w:t>Name</w:t><w:tab/><w:t>Value</w:t></w:r></w:p>',
    );
    const output = await extractFrom('address.docx', DOCX, docx);
    expect(output.text).toBe('Jane Smith\n42 Harbor Road\nSpringfield\n\nName\tValue');
    expect(output.word_count).toBe(8);
  });

  test('HTML5 without </head> and <body> keeps the text after the head, and drops the title', async () => {
    const page = '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Opt tags</title>\n<p>The harbor master inspected the cranes.</p>\n<p>Ships arrived later.</p>\n</html>\n';
    expect((await extractFrom('opthead.html', 'text/html', Buffer.from(page))).text).toBe('The harbor master inspected the cranes.\n\nShips arrived later.');
    const bare = '<!DOCTYPE html><title>T</title><p>Valid page without head or body.</p>';
    expect((await extractFrom('bare.html', 'text/html', Buffer.from(bare))).text).toBe('Valid page without head or body.');
    const text = '<html><head><title>T</title></head>Text right after the head.';
    expect((await extractFrom('text.html', 'text/html', Buffer.from(text))).text).toBe('Text right after the head.');
  });

  test('a text or Markdown file that mentions <head> in its middle is read whole, as what its name says; a one-paragraph fragment named .html is HTML', async () => {
    const notes = 'Remember: the <head> element holds metadata and must come first.\nThe visible content goes in another element.\n';
    expect(await extractFrom('notes.txt', 'text/plain', Buffer.from(notes))).toMatchObject({ detected_type: 'text/plain', text: notes.trim() });
    const markdown = '# Page structure\n\nPut metadata in the `<head>` element of the page.\n\n## Styling\n\nUse CSS classes for layout.\n';
    const read = await extractFrom('inline.md', 'text/markdown', Buffer.from(markdown));
    expect(read.detected_type).toBe('text/markdown');
    expect(read.text).toBe('Page structure\n\nPut metadata in the <head> element of the page.\n\nStyling\n\nUse CSS classes for layout.');
    const fragment = await extractFrom('frag.html', 'text/html', Buffer.from('<p>Just a <b>fragment</b> of HTML about whales.</p>'));
    expect(fragment).toMatchObject({ detected_type: 'text/html', text: 'Just a fragment of HTML about whales.' });
    const warned = await extractFrom('page.html', 'text/html', Buffer.from('Warning: something\n<!DOCTYPE html><html><body><p>The page.</p></body></html>'));
    expect(warned).toMatchObject({ detected_type: 'text/html', text: 'Warning: something\n\nThe page.' });
    const xhtml = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Report</title></head><body><p>Revenue grew.</p></body></html>';
    expect(await extractFrom('report', 'application/octet-stream', Buffer.from(xhtml))).toMatchObject({ detected_type: 'text/html', text: 'Revenue grew.' });
  });

  test('HTML yields the visible text: no head, scripts or styles; entities decoded; blocks on their own lines', async () => {
    const output = await extractFrom('article.html', 'text/html', await fixture('article.html'));
    expect(output.detected_type).toBe('text/html');
    expect(output.text).toBe(
      [
        'Home',
        'Task queues on Redis Streams',
        'Redis Streams keep every task until a worker acknowledges it — even when the worker crashes.',
        'Consumer groups spread tasks across workers.\nEach worker reads with XREADGROUP & acknowledges with XACK.',
        'Durable',
        'Ordered <by ID>',
        'Café owners love “reliable” queues — 5 € well spent.',
      ].join('\n\n'),
    );
    expect(output.text).not.toMatch(/LEAK|font-family|Queues & streams/);
  });

  test('Markdown yields its words without the syntax', async () => {
    const output = await extractFrom('guide.md', 'text/markdown', await fixture('guide.md'));
    expect(output.detected_type).toBe('text/markdown');
    expect(output.text).toBe(
      [
        'Running the worker',
        // A single line break inside a Markdown paragraph is a space.
        'The worker reads tasks from a stream and runs the matching processor. See the operations guide for details.',
        'Configuration',
        'REDIS_URL points at the server',
        'CONCURRENCY sets how many tasks run at once',
        'node dist/main.js',
        'Quotes are kept as text.',
        'Setting Default',
        'LEASE_MS 30000',
      ].join('\n\n'),
    );
  });

  test('plain text is kept as written, with line ends, trailing spaces and blank-line runs normalized', async () => {
    const output = await extractFrom('notes.txt', 'text/plain', await fixture('notes.txt'));
    expect(output).toMatchObject({ detected_type: 'text/plain', word_count: 13 });
    expect(output.text).toBe('Plain text notes.\nThe second line follows.\n\nA new paragraph with trailing spaces.');
  });

  test('the bytes decide the type, not the name or the claimed content type', async () => {
    const pdf = buildPdf([['Scanned as text, really a PDF.']]);
    expect((await extractFrom('upload.txt', 'text/plain', pdf)).detected_type).toBe('application/pdf');
    const html = await fixture('article.html');
    expect((await extractFrom('page.txt', 'application/octet-stream', html)).detected_type).toBe('text/html');
    const markdown = Buffer.from('# Title\n\nSome **bold** words and a [link](https://example.com).');
    expect((await extractFrom('upload.bin', 'application/octet-stream', markdown)).detected_type).toBe('text/markdown');
    expect((await extractFrom('readme.md', 'text/plain', Buffer.from('No markers at all.'))).detected_type).toBe('text/markdown');
  });

  test('a file named .pdf that is not a PDF fails as UNSUPPORTED_DOCUMENT, saying what it is and what it claimed', async () => {
    const error = await extractionError('report.pdf', 'application/pdf', Buffer.from('Just some words, no PDF here.'));
    expect(error.code).toBe('UNSUPPORTED_DOCUMENT');
    expect(error.message).toContain('"report.pdf"');
    expect(error.message).toMatch(/uploaded as a PDF, but its bytes are plain text/);
  });

  test('comments before a mismatch do not hold the event loop while the type is told: 245 bytes of them took the HTML check 2^33 ways, about a minute', async () => {
    const bytes = Buffer.from(`${'<!---->'.repeat(33)}x <p>hello</p>`);
    const { gapMs, outcome } = await longestTurnGap(() => extractFrom('comments.txt', 'text/plain', bytes));
    expect(outcome).toMatchObject({ status: 'fulfilled', value: { detected_type: 'text/plain' } });
    // Event-loop turns stay short (see README: a worker's other jobs and lease renewals run every 20 ms or so).
    expect(gapMs).toBeLessThan(1_000);
    // Comments before the root tag still make an HTML document.
    expect((await extractFrom('page.html', 'text/html', Buffer.from(`${'<!-- note -->\n'.repeat(40)}<html><body><p>Kept.</p></body></html>`))).detected_type).toBe('text/html');
  });

  test('an empty ZIP fails as UNSUPPORTED_DOCUMENT, said to be one (it was "binary data")', async () => {
    const empty = Buffer.concat([Buffer.from('PK\x05\x06', 'latin1'), Buffer.alloc(18)]);
    const error = await extractionError('empty.docx', DOCX, empty);
    expect(error).toMatchObject({ code: 'UNSUPPORTED_DOCUMENT', message: expect.stringContaining('is an empty ZIP archive') });
  });

  test('a DOCX content type on HTML bytes fails as UNSUPPORTED_DOCUMENT', async () => {
    const error = await extractionError('letter', DOCX, await fixture('article.html'));
    expect(error.code).toBe('UNSUPPORTED_DOCUMENT');
    expect(error.message).toMatch(/Word document \(DOCX\), but its bytes are HTML/);
  });

  test('text that is not UTF-8 is read as Windows-1252 (ISO-8859-1 included), not refused as binary', async () => {
    const text = 'Café crème brûlée — “très” bon, 5 € only. Ærøskøbing façade.';
    const windows1252 = Buffer.from(
      [...text].map((c) => ({ '—': 0x97, '“': 0x93, '”': 0x94, '€': 0x80 })[c] ?? c.charCodeAt(0)),
    );
    expect(windows1252.toString('utf8')).not.toBe(text); // the bytes really are not UTF-8
    const output = await extractFrom('menu.txt', 'text/plain', windows1252);
    expect(output.detected_type).toBe('text/plain');
    expect(output.text).toBe(text);
    expect((await extractFrom('latin1.txt', 'text/plain', Buffer.from('Déjà vu à Zürich.', 'latin1'))).text).toBe('Déjà vu à Zürich.');
  });

  test('random binary data fails as UNSUPPORTED_DOCUMENT; so does text in an encoding not read here, saying which are', async () => {
    const bytes = Buffer.concat([Buffer.from([0x00, 0x01, 0x02, 0xff]), randomBytes(4096)]);
    const error = await extractionError('blob.txt', 'text/plain', bytes);
    expect(error.code).toBe('UNSUPPORTED_DOCUMENT');
    expect(error.message).toMatch(/binary data/);
    // "あ。" in Shift-JIS, over and over.
    const shiftJis = Buffer.from(Array.from({ length: 200 }, () => [0x82, 0xa0, 0x81, 0x42]).flat());
    const refused = await extractionError('tokyo.txt', 'text/plain', shiftJis);
    expect(refused.message).toContain('nor text in UTF-8, UTF-16 with a byte-order mark, Windows-1252 or the charset an HTML page declares; other text, such as Shift-JIS or KOI8-R, must be saved as UTF-8 first');
    // The same bytes in a page that declares its charset are read in it.
    const page = Buffer.concat([Buffer.from('<!DOCTYPE html><html><head><meta charset="Shift_JIS"><title>x</title></head><body><p>'), shiftJis, Buffer.from('</p></body></html>')]);
    expect(await extractFrom('tokyo.html', 'text/html', page)).toMatchObject({ detected_type: 'text/html', text: 'あ。'.repeat(200) });
    const koi8 = Buffer.concat([Buffer.from('<?xml version="1.0" encoding="KOI8-R"?>\n<html><body><p>'), Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]), Buffer.from('</p></body></html>')]);
    expect((await extractFrom('privet.xhtml', 'application/xhtml+xml', koi8)).text).toBe('Привет');
  });

  test('a ZIP that is not a Word document fails as UNSUPPORTED_DOCUMENT', async () => {
    const error = await extractionError('archive.docx', DOCX, await buildZip());
    expect(error.code).toBe('UNSUPPORTED_DOCUMENT');
    expect(error.message).toMatch(/ZIP archive that is not a Word document/);
  });

  test('a PDF without a text layer fails as UNSUPPORTED_DOCUMENT (no OCR)', async () => {
    const error = await extractionError('scan.pdf', 'application/pdf', buildPdf([[], []]));
    expect(error.code).toBe('UNSUPPORTED_DOCUMENT');
    expect(error.message).toMatch(/no text layer/);
  });

  test('a damaged PDF fails as UNSUPPORTED_DOCUMENT', async () => {
    const error = await extractionError('broken.pdf', 'application/pdf', Buffer.from('%PDF-1.7\nthis is not a real PDF body'));
    expect(error.code).toBe('UNSUPPORTED_DOCUMENT');
  });

  test('a document with no text fails as EMPTY_DOCUMENT', async () => {
    const error = await extractionError('empty.html', 'text/html', Buffer.from('<html><body><script>x()</script></body></html>'));
    expect(error.code).toBe('EMPTY_DOCUMENT');
  });

  test('a PDF that needs more than DOCUMENT_READ_MEMORY to read fails as DOCUMENT_TOO_LARGE, and the event loop stays free meanwhile', async () => {
    const pdf = buildExpandingPdf(60 * 1024 * 1024);
    expect(pdf.length).toBeLessThan(1024 * 1024);
    const small = createExtract({ ...DEFAULT_LIMITS, memory: 32 * 1024 * 1024 });
    // Timers keep firing while the document is read: leases are renewed, probes answered.
    const { gapMs, outcome } = await longestTurnGap(() => small(documentPayload('expanding.pdf', 'application/pdf', pdf), stageHelpers({ bytes: pdf })));
    expect(outcome.status).toBe('rejected');
    const error = (outcome as PromiseRejectedResult).reason as unknown;
    expect(error).toBeInstanceOf(NonRetryableError);
    expect(error).toMatchObject({ code: 'DOCUMENT_TOO_LARGE', message: 'the PDF needs more than 32 MiB of memory to read (DOCUMENT_READ_MEMORY; its streams unpack to far more than its size?)' });
    // Read in the worker's own thread, the PDF held it for seconds; 523 ms was seen once under the full suite's load.
    expect(gapMs).toBeLessThan(1_000);
  });

  test('a long PDF of plain text is read within a reader heap far smaller than all its pages parsed', async () => {
    // pdf.js keeps about 70 kB for every page read until the document is cleaned up: these 800
    // pages failed as DOCUMENT_TOO_LARGE with 64 MiB, and a 20 MiB PDF of 3,650 such pages with the
    // default 256 MiB.
    const line = 'The committee reviewed the quarterly figures and found the costs within the planned budget.';
    const pages = Array.from({ length: 800 }, (_, page) => Array.from({ length: 50 }, (_, row) => `${line} ${page + 1}-${row + 1}`));
    const pdf = buildPdf(pages);
    const reader = createExtract({ ...DEFAULT_LIMITS, memory: 56 * 1024 * 1024 });
    const output = (await reader(documentPayload('report.pdf', 'application/pdf', pdf), stageHelpers({ bytes: pdf }))) as ExtractOutput;
    expect(output.page_count).toBe(800);
    expect(output.text.split('\n\n').map((page) => page.split('\n'))).toEqual(pages);
  });

  test('a DOCX that unpacks to more than a quarter of the reader\'s heap fails as DOCUMENT_TOO_LARGE without being unpacked, whatever sizes it gives; the next is read', async () => {
    // A ZIP library unpacks every part outside the JavaScript heap, where the reader's heap limit
    // does not count it: 0.8 MB of DOCX took a reader to 1.7 GB. Its sizes are checked first,
    // and each deflated part unpacked (to its given size at most) to see that it says the truth.
    const limits = { ...DEFAULT_LIMITS, memory: 64 * 1024 * 1024 };
    const capped = createExtract(limits);
    const honest = await buildExpandingDocx(40 * 1024 * 1024);
    const lying = withSizesOf(honest, 'word/document.xml', 1_000);
    for (const docx of [honest, lying]) {
      expect(docx.length).toBeLessThan(256 * 1024);
      await expect(capped(documentPayload('bomb.docx', DOCX, docx), stageHelpers({ bytes: docx }))).rejects.toMatchObject({
        code: 'DOCUMENT_TOO_LARGE',
        message: expect.stringMatching(/^the Word document unpacks to more than \d+ MiB, a quarter of the reader's heap \(DOCUMENT_READ_MEMORY;/),
      });
    }
    const fits = await buildExpandingDocx(1024 * 1024);
    expect((await capped(documentPayload('fits.docx', DOCX, fits), stageHelpers({ bytes: fits })) as ExtractOutput).text_length).toBeGreaterThan(500_000);
  });

  test('a DOCX whose XML, within the unpacking limit, needs more than DOCUMENT_READ_MEMORY to read fails as DOCUMENT_TOO_LARGE, and the worker process lives on', async () => {
    // Its one part becomes one string larger than the reader's whole heap: V8 cannot stop there
    // in steps as it does for a PDF, and ends the process holding that heap. When that was a
    // thread of the worker's, it was the worker, with every job it held (this test's process).
    const docx = await buildExpandingDocx(11 * 1024 * 1024);
    expect(docx.length).toBeLessThan(256 * 1024);
    const small = createExtract({ ...DEFAULT_LIMITS, memory: 32 * 1024 * 1024 });
    const error = await small(documentPayload('bomb.docx', DOCX, docx), stageHelpers({ bytes: docx })).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(NonRetryableError);
    expect(error).toMatchObject({ code: 'DOCUMENT_TOO_LARGE', message: 'the Word document needs more than 32 MiB of memory to read (DOCUMENT_READ_MEMORY; its streams unpack to far more than its size?)' });
    // The next document is read as before.
    expect((await extractFrom('notes.docx', DOCX, await buildDocx(['Still here.']))).text).toBe('Still here.');
  });

  test('a document whose text is longer than MAX_DOCUMENT_TEXT fails as DOCUMENT_TOO_LARGE, saying how long; one at the limit is read', async () => {
    // A DOCX of a few kB with over 100,000 characters of text: a compressed format brings far
    // more text than its size, and that text is what Redis holds with the job.
    const docx = await buildExpandingDocx(200_000);
    expect(docx.length).toBeLessThan(8 * 1024);
    const { text_length: textLength } = await extractFrom('long.docx', DOCX, docx);
    expect(textLength).toBeGreaterThan(100_000);
    const capped = createExtract({ ...DEFAULT_LIMITS, maxTextLength: 50_000 });
    // The reader refuses it itself, and answers (it is kept for the next document, not ended).
    const started = readerProcessesStarted();
    const error = await capped(documentPayload('long.docx', DOCX, docx), stageHelpers({ bytes: docx })).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(NonRetryableError);
    expect(error).toMatchObject({
      code: 'DOCUMENT_TOO_LARGE',
      message: `the Word document holds ${textLength.toLocaleString('en-US')} characters of text, more than MAX_DOCUMENT_TEXT (50,000) lets one document yield`,
    });
    const short = await buildDocx(['Short.']);
    expect((await capped(documentPayload('short.docx', DOCX, short), stageHelpers({ bytes: short })) as ExtractOutput).text).toBe('Short.');
    expect(readerProcessesStarted()).toBe(started);
    // Plain text, read in the worker's own thread, is held to the same limit; text of exactly the limit is read whole.
    const text = Buffer.from('x'.repeat(50_001));
    await expect(capped(documentPayload('long.txt', 'text/plain', text), stageHelpers({ bytes: text }))).rejects.toMatchObject({
      code: 'DOCUMENT_TOO_LARGE',
      message: '"long.txt" (text/plain) holds 50,001 characters of text, more than MAX_DOCUMENT_TEXT (50,000) lets one document yield',
    });
    const atLimit = Buffer.from('x'.repeat(50_000));
    const output = (await capped(documentPayload('full.txt', 'text/plain', atLimit), stageHelpers({ bytes: atLimit }))) as ExtractOutput;
    expect(output.text_length).toBe(50_000);
  });

  test('Markdown built to take its parser quadratic time fails as DOCUMENT_TOO_SLOW after DOCUMENT_READ_TIMEOUT, and the event loop stays free meanwhile', async () => {
    // 200 kB of `_a` took marked 13 s.
    const markdown = Buffer.from('_a'.repeat(100_000));
    const quick = createExtract({ ...DEFAULT_LIMITS, timeoutMs: 1_000 });
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 10);
    const started = performance.now();
    const error = await quick(documentPayload('slow.md', 'text/markdown', markdown), stageHelpers({ bytes: markdown })).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    clearInterval(ticker);
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ code: 'DOCUMENT_TOO_SLOW', message: 'reading the Markdown took longer than 1000 ms (DOCUMENT_READ_TIMEOUT); it is large or built to be costly to read: raise the limit if it is a document you expect' });
    expect(elapsed).toBeLessThan(3_000);
    expect(ticks).toBeGreaterThan(elapsed / 10 / 4);
  });

  test('at most two documents are read at once; a third waits its turn, and a job cancelled while waiting stops at once', async () => {
    const markdown = Buffer.from('_a'.repeat(100_000));
    const quick = createExtract({ ...DEFAULT_LIMITS, timeoutMs: 800 });
    const started = performance.now();
    const read = (signal?: AbortSignal) =>
      quick(documentPayload('slow.md', 'text/markdown', markdown), stageHelpers({ bytes: markdown, ...(signal ? { signal } : {}) })).then(
        () => 'read',
        (error: Error & { code?: string }) => ({ code: error.code ?? error.message, at: performance.now() - started }),
      );
    const cancelled = new AbortController();
    const reads = [read(), read(), read(cancelled.signal), read()];
    setTimeout(() => cancelled.abort(new Error('job cancelled')), 200);
    const [first, second, third, fourth] = (await Promise.all(reads)) as Array<{ code: string; at: number }>;
    expect([first!.code, second!.code, third!.code, fourth!.code]).toEqual(['DOCUMENT_TOO_SLOW', 'DOCUMENT_TOO_SLOW', 'job cancelled', 'DOCUMENT_TOO_SLOW']);
    expect(third!.at).toBeLessThan(700);
    // The fourth started when one of the first two ended.
    expect(fourth!.at).toBeGreaterThan(Math.min(first!.at, second!.at) + 700);
  });

  test('a reader process that answered reads the next document; one that ran out of time is ended', async () => {
    const pdf = buildPdf([['Read by a kept reader.']]);
    const before = readerProcessesStarted();
    for (let i = 0; i < 3; i += 1) expect((await extractFrom('kept.pdf', 'application/pdf', pdf)).text).toBe('Read by a kept reader.');
    expect(readerProcessesStarted() - before).toBeLessThanOrEqual(1);
    const slow = Buffer.from('_a'.repeat(100_000));
    const quick = createExtract({ ...DEFAULT_LIMITS, timeoutMs: 500 });
    await expect(quick(documentPayload('slow.md', 'text/markdown', slow), stageHelpers({ bytes: slow }))).rejects.toMatchObject({ code: 'DOCUMENT_TOO_SLOW' });
    const afterSlow = readerProcessesStarted();
    // Kept readers are per heap limit: the one that was ended had this one's, and a new one starts.
    expect((await extractFrom('kept.pdf', 'application/pdf', pdf)).text).toBe('Read by a kept reader.');
    expect(readerProcessesStarted()).toBe(afterSlow + 1);
  });

  test('Markdown nested deeper than its parser can follow fails as UNSUPPORTED_DOCUMENT, saying why', async () => {
    const error = await extractionError('deep.md', 'text/markdown', Buffer.from('> '.repeat(50_000)));
    expect(error.code).toBe('UNSUPPORTED_DOCUMENT');
    expect(error.message).toBe('the Markdown cannot be read: Maximum call stack size exceeded');
  });

  test('a job aborted while its PDF is read stops at once', async () => {
    const pdf = buildExpandingPdf(60 * 1024 * 1024);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('job cancelled')), 300);
    const started = performance.now();
    await expect(extract(documentPayload('a.pdf', 'application/pdf', pdf), stageHelpers({ bytes: pdf, signal: controller.signal }))).rejects.toThrow('job cancelled');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  test('an aborted job stops reading a PDF between pages', async () => {
    const controller = new AbortController();
    controller.abort(new Error('job cancelled'));
    const pdf = buildPdf([['One.'], ['Two.']]);
    await expect(extract(documentPayload('a.pdf', 'application/pdf', pdf), stageHelpers({ bytes: pdf, signal: controller.signal }))).rejects.toThrow('job cancelled');
  });
});
