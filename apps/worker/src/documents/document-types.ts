/** The document formats the `extract` stage reads, by the MIME type it reports. */
export const DOCUMENT_TYPES = {
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  html: 'text/html',
  markdown: 'text/markdown',
  text: 'text/plain',
} as const;

export type DocumentKind = keyof typeof DOCUMENT_TYPES;

/** How a kind reads in messages. */
export const DOCUMENT_KIND_NAMES: Record<DocumentKind, string> = {
  pdf: 'a PDF',
  docx: 'a Word document (DOCX)',
  html: 'HTML',
  markdown: 'Markdown',
  text: 'plain text',
};
