import multipart from '@fastify/multipart';
import fp from 'fastify-plugin';

/** Multipart uploads for `POST /documents`: one file, a few small fields, and the size limit. */
export default fp(
  async (app, { maxDocumentBytes }: { maxDocumentBytes: number }) => {
    await app.register(multipart, {
      limits: {
        fileSize: maxDocumentBytes,
        files: 1,
        fields: 20,
        fieldSize: 64 * 1024,
        parts: 25,
        headerPairs: 200,
      },
      throwFileSizeLimit: true,
    });
  },
  { name: 'multipart' },
);
