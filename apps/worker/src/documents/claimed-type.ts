import type { DocumentKind } from './document-types.js';

/**
 * The binary format a client said a document is, by its content type or its file name's
 * extension. Text formats are not checked against the bytes: a Markdown file sent as
 * text/plain is still read, but a "PDF" that is not one is refused.
 */
export function claimedBinaryKind(filename: string, contentType: string): Extract<DocumentKind, 'pdf' | 'docx'> | undefined {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/pdf' || /\.pdf$/i.test(filename)) return 'pdf';
  if (type === 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' || /\.docx$/i.test(filename)) return 'docx';
  return undefined;
}
