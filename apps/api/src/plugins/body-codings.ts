import fp from 'fastify-plugin';
import { ProblemError } from '../problems/problem-error.js';

/** A Content-Encoding value, trimmed, that names no coding. */
const isIdentity = (coding: string) => coding === '' || coding.toLowerCase() === 'identity';

/** Whether a Transfer-Encoding value names chunked alone, the one transfer coding Node decodes. */
const isChunked = (codings: string) => codings.trim().toLowerCase() === 'chunked';

/**
 * Bodies are read as sent: a compressed body would otherwise be parsed as if it were plain and
 * answered "not valid JSON", or worse, stored as a document of compressed bytes. It is refused
 * before the body is read, with a 415 that says so, whether the coding is a Content-Encoding
 * (gzip, br, ...; RFC 9110: the answer's Accept-Encoding names the codings that are taken) or a
 * transfer coding before chunked (`Transfer-Encoding: gzip, chunked`), which Node leaves in the
 * body it hands on, while any other transfer coding would be ignored and its bytes stored as is.
 */
export default fp(
  async (app) => {
    // A callback hook, not an async one: it runs on every request and most have no coding.
    app.addHook('onRequest', (request, _reply, done) => {
      const coding = request.headers['content-encoding'];
      const transfer = request.headers['transfer-encoding'];
      // trim(), not /^\s*(identity)?\s*$/: that regex backtracks quadratically over whitespace
      // Node leaves in a value (U+00A0 from a 0xA0 byte), 130 ms of the event loop per 16 KiB header.
      if (coding !== undefined && !isIdentity(coding.trim())) {
        return done(
          new ProblemError('unsupported-media-type', `Content-Encoding "${coding}" is not accepted: send the body uncompressed, without a Content-Encoding header.`, {}, {
            'accept-encoding': 'identity',
          }),
        );
      }
      if (transfer !== undefined && !isChunked(transfer)) {
        return done(new ProblemError('unsupported-media-type', `Transfer-Encoding "${transfer}" is not accepted: send the body uncompressed, with Transfer-Encoding: chunked alone or a Content-Length.`));
      }
      done();
    });
  },
  { name: 'body-codings' },
);
