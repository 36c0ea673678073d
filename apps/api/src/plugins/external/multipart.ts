import multipart from '@fastify/multipart';
import fp from 'fastify-plugin';

/** Most bytes of one text field of the form (`metadata` is the longest). */
export const FIELD_BYTES = 64 * 1024;

/** Multipart uploads for `POST /documents`: one file, a few small fields, and the size limit. */
export default fp(
  async (app, { maxDocumentBytes }: { maxDocumentBytes: number }) => {
    await app.register(multipart, {
      limits: {
        fileSize: maxDocumentBytes,
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
