import { MAX_PARAMS_DEPTH } from '@conveyor/shared';
import type { FastifyRequest } from 'fastify';
import { isUtf8 } from 'node:buffer';
import fp from 'fastify-plugin';
import { parse } from 'secure-json-parse';
import type { ZodType } from 'zod';
import { ProblemError } from '../problems/problem-error.js';
import { jsonPastLimits, MAX_BODY_CONTAINERS, MAX_BODY_DEPTH } from '../services/json-depth.js';

const FORBIDDEN_KEY = 'Object contains forbidden prototype property';

/**
 * JSON text parsed as the API reads every JSON it is sent (secure-json-parse): a `__proto__` key
 * or a `constructor` holding `prototype` is refused, not dropped or turned into a prototype.
 * Throws the parser's error; isForbiddenKey tells that refusal from broken JSON.
 */
export function parseJson(text: string): unknown {
  return parse(text, { protoAction: 'error', constructorAction: 'error' });
}

/** Whether parseJson refused a `__proto__` key or a `constructor` holding `prototype`. */
export function isForbiddenKey(error: unknown): boolean {
  return error instanceof Error && error.message === FORBIDDEN_KEY;
}

const EXAMPLES: Record<string, string> = {
  '/jobs': 'Send a JSON object, e.g. {"model":"echo","prompt":"hi"}.',
  '/jobs/batch': 'Send a JSON object, e.g. {"jobs":[{"model":"echo","prompt":"hi"}]}.',
};
const ELSEWHERE = 'GET /docs shows the body this route takes.';

function exampleFor(request: FastifyRequest): string {
  return EXAMPLES[request.routeOptions.url ?? ''] ?? ELSEWHERE;
}

const CUT_SHORT = ' The body ends before its JSON does: if it was cut short, Content-Length counts the body\'s bytes (in UTF-8), not its characters.';

/** Whether the parser's `message` says the JSON ran on past the end of `body`. */
function endsEarly(message: string, body: string): boolean {
  const position = /at position (\d+)/.exec(message)?.[1];
  return message.startsWith('Unexpected end of JSON input') || (position !== undefined && Number(position) >= body.length);
}

/** Whether the route may be sent no body: it takes none (retry, cancel) or its schema lets it out. */
export function bodyIsOptional(request: FastifyRequest): boolean {
  const schema = request.routeOptions.schema?.body as ZodType | undefined;
  return schema === undefined || schema.safeParse(undefined).success;
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;
const UTF8_LABELS = new Set(['utf-8', 'utf8', 'us-ascii']);

/** A charset the Content-Type names other than UTF-8 (JSON on the wire is UTF-8: RFC 8259 §8.1). */
function foreignCharset(contentType: string | undefined): string | undefined {
  if (contentType === undefined || !contentType.includes(';')) return undefined;
  const charset = CHARSET.exec(contentType)?.[1];
  return charset === undefined || UTF8_LABELS.has(charset.toLowerCase()) ? undefined : charset;
}

/** Where a body stops being UTF-8: its first bad byte, and the text before it (only on this error's path). */
function notUtf8(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  // Each bad byte is read as U+FFFD; one the client sent is the bytes EF BF BD, and is not bad.
  for (let i = text.indexOf('\ufffd'); i !== -1; i = text.indexOf('\ufffd', i + 1)) {
    const at = Buffer.byteLength(text.slice(0, i));
    if (bytes[at] !== 0xef || bytes[at + 1] !== 0xbf || bytes[at + 2] !== 0xbd) {
      return `The body is not UTF-8: byte 0x${bytes[at]!.toString(16).padStart(2, '0')} after "${text.slice(Math.max(0, i - 40), i)}" (byte ${at}) is not part of a UTF-8 character.`;
    }
  }
  return 'The body is not UTF-8.';
}

/**
 * JSON bodies, parsed as Fastify's default parser does (secure-json-parse, which refuses a
 * `__proto__` key and a `constructor` holding `prototype`), but a body that cannot be taken is
 * answered with what is wrong and where: the parser's own message ("Expected ',' or '}' after
 * property value in JSON at position 16") instead of a bare "not valid JSON", and the refused
 * key named as such, since that body is valid JSON. JSON is UTF-8 (RFC 8259): a body declared in
 * another charset, or holding bytes that are not UTF-8, is refused rather than read with U+FFFD
 * in their place and stored garbled (a leading byte order mark, which Windows tools write, is
 * skipped by the parser).
 */
export default fp(
  async (app) => {
    // A request without a body to a route that may be sent none (retry, cancel, pause): its
    // Content-Type describes nothing and is dropped. Postman's raw text mode, .NET's
    // StringContent("") and Java's HttpURLConnection send one with an empty POST, which Fastify
    // would answer with a 415 for a body that is not there, before a missing job's 404.
    // Such a route declares a JSON body it may be sent without; an upload (POST /documents)
    // declares none, and keeps its Content-Type, so an empty one is told the form lacks its file.
    app.addHook('onRequest', (request, _reply, done) => {
      const { headers } = request.raw;
      if (headers['content-type'] !== undefined && headers['transfer-encoding'] === undefined && (headers['content-length'] ?? '0') === '0' && request.routeOptions.schema?.body !== undefined && bodyIsOptional(request)) {
        delete headers['content-type'];
      }
      done();
    });
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, bytes: Buffer, done) => {
      const charset = foreignCharset(request.headers['content-type']);
      if (charset !== undefined) {
        done(new ProblemError('unsupported-media-type', `The body is declared as charset "${charset}"; JSON is taken in UTF-8 only. Send the body as UTF-8 with Content-Type: application/json.`), undefined);
        return;
      }
      if (!isUtf8(bytes)) {
        done(new ProblemError('malformed-json', `${notUtf8(bytes)} JSON is taken in UTF-8 only: send the text encoded as UTF-8.`), undefined);
        return;
      }
      const body = bytes.toString('utf8');
      if (body.length === 0) {
        // Clients that always send Content-Type: application/json send it with no body too: on a
        // route whose body may be left out (pause, resume, retry) that is no body, not broken JSON.
        if (bodyIsOptional(request)) done(null, undefined);
        else done(new ProblemError('malformed-json', `The body is empty (a body sent with neither Content-Length nor Transfer-Encoding: chunked is read as none). ${exampleFor(request)}`), undefined);
        return;
      }
      const excess = jsonPastLimits(body, MAX_BODY_DEPTH, MAX_BODY_CONTAINERS);
      if (excess !== undefined) {
        // Refused unread: parsing it would hold every other request meanwhile (see MAX_BODY_DEPTH).
        const [message, remedy] =
          excess === 'depth'
            ? [`nests arrays and objects more than ${MAX_BODY_DEPTH} levels deep; params may nest at most ${MAX_PARAMS_DEPTH}`, 'Send a shallower body.']
            : [`holds more than ${MAX_BODY_CONTAINERS.toLocaleString('en-US')} objects and arrays in all`, 'Send fewer jobs per batch, or smaller params.'];
        done(new ProblemError('invalid-request', `body: ${message}. ${remedy}`, { errors: [{ path: 'body', message }] }), undefined);
        return;
      }
      try {
        done(null, parseJson(body));
      } catch (error) {
        const message = (error as Error).message;
        done(
          isForbiddenKey(error)
            ? new ProblemError('invalid-request', 'body: a "__proto__" key, or a "constructor" key holding "prototype", is refused at any depth because it could change object prototypes. Rename or remove it.', {
                errors: [{ path: 'body', message: 'a "__proto__" or "constructor.prototype" key is not accepted' }],
              })
            : new ProblemError('malformed-json', `${message}.${endsEarly(message, body) ? CUT_SHORT : ''} ${exampleFor(request)}`),
          undefined,
        );
      }
    });
  },
  { name: 'json-body' },
);
