import { decodeText } from './decode-text.js';
import { zipEntryNames } from './zip-entries.js';

/**
 * What a document is, judged from its bytes (magic numbers, then the text's own markers); the
 * file name only tips a text one way or the other (see textKind). For text kinds, the decoded
 * text comes along.
 */
export type Detection =
  | { kind: 'pdf' | 'docx' }
  | { kind: 'html' | 'markdown' | 'text'; text: string }
  | { kind: 'unsupported'; description: string };

const startsWith = (bytes: Buffer, signature: string | number[]) =>
  bytes.subarray(0, signature.length).equals(typeof signature === 'string' ? Buffer.from(signature, 'latin1') : Buffer.from(signature));

/** Formats we recognize but do not read, for a clear refusal. */
const UNSUPPORTED_SIGNATURES: Array<[signature: string | number[], description: string]> = [
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'],
  [[0xff, 0xd8, 0xff], 'a JPEG image'],
  ['GIF8', 'a GIF image'],
  [[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], 'a legacy Office document (.doc, .xls or .ppt)'],
  [[0x1f, 0x8b], 'a gzip archive'],
  ['{\\rtf', 'an RTF document'],
  ['%!PS', 'a PostScript document'],
];

const ZIP_FORMATS: Array<[entry: string, description: string]> = [
  ['xl/workbook.xml', 'an Excel workbook (XLSX)'],
  ['ppt/presentation.xml', 'a PowerPoint presentation (PPTX)'],
  ['content.xml', 'an OpenDocument file'],
];

/** What bytes are that are neither a format known here nor text in an encoding read here (see decodeText). */
const BINARY = 'binary data (neither a known document format nor text in UTF-8, UTF-16 with a byte-order mark, Windows-1252 or the charset an HTML page declares; other text, such as Shift-JIS or KOI8-R, must be saved as UTF-8 first)';

export function detectDocumentType(bytes: Buffer, filename: string): Detection {
  if (startsWith(bytes, '%PDF-')) return { kind: 'pdf' };
  if (startsWith(bytes, 'PK\x03\x04')) return detectZip(bytes);
  // An archive with no entries is its end record alone.
  if (startsWith(bytes, 'PK\x05\x06')) return { kind: 'unsupported', description: 'an empty ZIP archive' };
  for (const [signature, description] of UNSUPPORTED_SIGNATURES) {
    if (startsWith(bytes, signature)) return { kind: 'unsupported', description };
  }
  const text = decodeText(bytes);
  if (text === undefined) return { kind: 'unsupported', description: BINARY };
  return { kind: textKind(text, filename), text };
}

function detectZip(bytes: Buffer): Detection {
  const names = zipEntryNames(bytes);
  if (!names) return { kind: 'unsupported', description: 'a damaged ZIP archive' };
  if (names.includes('word/document.xml')) return { kind: 'docx' };
  const known = ZIP_FORMATS.find(([entry]) => names.includes(entry));
  return { kind: 'unsupported', description: known ? known[1] : 'a ZIP archive that is not a Word document' };
}

// A comment is matched one way only (it cannot run on past its own `-->`): with `[\s\S]*?` one
// comment could also span several, and 33 comments before a mismatch took the regex 2^33 ways,
// a minute of the worker's event loop for 245 bytes.
// An XHTML page may open with an XML declaration (`<?xml version="1.0" encoding="KOI8-R"?>`).
const HTML_DOCUMENT = /^\s*(?:<\?xml\b[^>]*>\s*)?(?:<!--(?:(?!-->)[\s\S])*-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]/i;
const HTML_ROOT_TAGS = /<(?:html|head|body)[\s>]/i;
const HTML_BLOCK_TAGS = /<(?:p|div|h[1-6]|ul|ol|li|table|tr|td|br|article|section|span|a\s+href)\b[^>]*>/gi;
const MARKDOWN_MARKERS = [
  /^#{1,6}\s+\S/m, // # heading
  /^(?:```|~~~)/m, // fenced code
  /!?\[[^\]\n]+\]\([^)\s]+\)/, // [link](url), ![image](url)
  /(?:\*\*|__)\S[^*_\n]*\S(?:\*\*|__)/, // **bold**
  /^[^\n]+\n(?:=+|-+)\s*$/m, // setext heading
];

/**
 * A text's kind. A page that starts as one (a doctype, `<html>`, `<head>` or `<body>` first) is
 * HTML whatever its name; past that, only a text that starts with a tag is taken for HTML, and
 * never one named `.txt` or `.md`: a note that mentions `<head>` in its middle was read as a page
 * and lost all its text after that word. A `.html` name makes any text that starts with a tag
 * HTML (an editor's one-paragraph fragment, `<p>Just a <b>fragment</b></p>`), and so does one
 * with a page's doctype or root tag further on.
 */
function textKind(text: string, filename: string): 'html' | 'markdown' | 'text' {
  const head = text.slice(0, 8192);
  if (HTML_DOCUMENT.test(head)) return 'html';
  if (/\.(?:md|markdown)$/i.test(filename)) return 'markdown';
  const startsWithTag = /^\s*<[a-z!]/i.test(head);
  // A page named so with a line of something else before it (a server's warning) is one too.
  if (/\.x?html?$/i.test(filename) && (startsWithTag || HTML_ROOT_TAGS.test(head) || /<!doctype\s+html/i.test(head))) return 'html';
  if (startsWithTag && !/\.te?xt$/i.test(filename) && (HTML_ROOT_TAGS.test(head) || (head.match(HTML_BLOCK_TAGS)?.length ?? 0) >= 2)) return 'html';
  if (MARKDOWN_MARKERS.some((marker) => marker.test(head))) return 'markdown';
  return 'text';
}
