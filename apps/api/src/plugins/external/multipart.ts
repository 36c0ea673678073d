import multipart from '@fastify/multipart';
import fp from 'fastify-plugin';

/** Most bytes of one text field of the form (`metadata` is the longest). */
export const FIELD_BYTES = 64 * 1024;

/**
 * Most bytes of a form beside its file: its text fields (the limits below: 20 of 64 KiB, 1.25
 * MiB), with room for the parts' headers and boundaries. An upload is at most MAX_DOCUMENT_BYTES
 * plus this.
 */
export const FORM_BYTES = 2 * 1024 * 1024;

/** Multipart uploads for `POST /documents`: one file, a few small fields, and the size limit. */
export default fp(
  async (app, { maxDocumentBytes }: { maxDocumentBytes: number }) => {
    await app.register(multipart, {
      limits: {
        fileSize: maxDocumentBytes,
        // The route raises this for the text fields typed JSON it reads as streams (form-parts.ts).
        files: 1,
        fields: 20,
        fieldSize: FIELD_BYTES,
        parts: 25,
        headerPairs: 200,
      },
      throwFileSizeLimit: true,
    });
  },
  { name: 'multipart' },
);
