import type { MultipartFile } from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { isUtf8 } from 'node:buffer';
import multipartPlugin, { FIELD_BYTES, FORM_BYTES } from '../plugins/external/multipart.js';
import { type FormPart, FormParts, isJsonText } from '../form-parts.js';
import { logCreated } from '../job-created-log.js';
import { jobPath } from '../job-path.js';
import { uploadFileName } from '../upload-file-name.js';
import { ProblemError } from '../problems/problem-error.js';
import { invalidRequest, plainErrors } from '../problems/validation-wording.js';
import { documentFieldsSchema } from '../schemas/document-upload.js';
import { idempotencyHeadersSchema } from '../schemas/create-job.js';
import { acceptedJobSchema } from '../schemas/job-view.js';
import { jsonPastLimits, MAX_BODY_DEPTH } from '../services/json-depth.js';
import type { BodyBudget } from '../services/body-budget.js';
import { problemResponses } from '../schemas/problem.js';

interface ReadUpload {
  file: { bytes: Buffer; filename: string; contentType: string } | undefined;
  otherFileField: string | undefined;
  fields: Record<string, string>;
}

/** The form's text fields, beside `file`. */
const TEXT_FIELDS = new Set(Object.keys(documentFieldsSchema.shape));

/** Longest file name an upload keeps (as most file systems allow). */
const MAX_FILENAME_CHARS = 255;

/** Said with a field the form does not take. */
const FORM_FIELDS = `the form's fields are file, ${[...TEXT_FIELDS].join(', ')}`;

/** The problem for a text field the client sent as a file (curl -F metadata=@meta.json). */
function sentAsFile(name: string, filename: string | undefined): never {
  const example = `-F "${name}=<${filename || 'file'}"`;
  fieldProblem(name, `came as a file; send it, like every field but "file", as a text field: with curl, ${example} sends the file's content as text (@ sends the file itself)`);
}

/**
 * The most parts of a form read as streams: the one file, and each text field typed JSON (see
 * isJsonText), at most one of each field the form takes. A file past the first is refused by
 * readUpload, in the words of oneFileOnly; a part past these, by the parser.
 */
const STREAMED_PARTS = 1 + TEXT_FIELDS.size;

/** Most objects and arrays a text field typed JSON may hold: the form's fields hold at most one (metadata). */
const FIELD_JSON_CONTAINERS = 1_000;

/**
 * Reads the whole form: the one file (buffered, size-limited by the multipart plugin) and the
 * text fields. The refusal of a part is thrown at once, and the rest of the form let through
 * meanwhile: the parser waits on a part read as a stream until it is read, and with it the rest
 * of the request, and the next request on its connection.
 */
async function readUpload(parts: AsyncIterableIterator<FormPartRead>, seen: FormParts, limit: FileLimit): Promise<ReadUpload> {
  const upload: ReadUpload = { file: undefined, otherFileField: undefined, fields: {} };
  for (let next = await parts.next(); !next.done; next = await parts.next()) {
    try {
      await readPart(upload, next.value, seen, limit);
    } catch (error) {
      letThrough(next.value);
      void letRestThrough(parts);
      throw error;
    }
  }
  return upload;
}

/** Lets a part's bytes through unread, when it is a stream. */
function letThrough(part: FormPartRead): void {
  if (part.type === 'file' && !part.file.readableEnded) part.file.resume();
}

/** Lets the rest of a refused form through; the parser's own refusal of it, if any, is not wanted. */
async function letRestThrough(parts: AsyncIterableIterator<FormPartRead>): Promise<void> {
  try {
    for await (const part of parts) letThrough(part);
  } catch {
    // The form was answered already.
  }
}

type FormPartRead = MultipartFile | { type: 'field'; fieldname: string; value: unknown };

/**
 * The file's own limit. The parser cuts every part read as a stream at one size, text fields
 * typed JSON among them: at least a field's 64 KiB, so MAX_DOCUMENT_BYTES, which may be less, is
 * checked here (`tooLarge`, the parser's own error for it).
 */
interface FileLimit {
  bytes: number;
  tooLarge: () => Error;
}

/** Reads one part of the form into `upload`, or throws the problem with it. */
async function readPart(upload: ReadUpload, part: FormPartRead, seen: FormParts, limit: FileLimit): Promise<void> {
  if (!part.fieldname) throw new ProblemError('malformed-form', 'A part of the form has no name: its Content-Disposition header needs one, e.g. form-data; name="priority".');
  if (part.type === 'file' && isJsonText(part.mimetype, part.filename)) {
    addField(upload, part.fieldname, await jsonFieldText(part));
  } else if (part.type === 'file') {
    if (TEXT_FIELDS.has(part.fieldname)) sentAsFile(part.fieldname, part.filename);
    if (upload.file || upload.otherFileField) oneFileOnly(seen.files);
    // Bytes typed application/octet-stream are a file without a name (its type says so): undefined, whatever the parser's types say.
    const filename = uploadFileName((part.filename as string | undefined) ?? '');
    // In characters (code points): an emoji counted as two.
    const characters = [...filename].length;
    if (part.fieldname === 'file' && characters > MAX_FILENAME_CHARS) {
      fieldProblem('file', `has a file name of ${characters} characters; at most ${MAX_FILENAME_CHARS} are kept with the job: rename the file, or name it with curl -F "file=@<path>;filename=<name>"`);
    }
    const bytes = await part.toBuffer();
    if (bytes.length > limit.bytes) throw limit.tooLarge();
    if (part.fieldname === 'file') upload.file = { bytes, filename: filename || 'upload', contentType: part.mimetype || 'application/octet-stream' };
    else upload.otherFileField = part.fieldname;
  } else {
    // The parser cuts a field at its limit, silently: a cut `metadata` would then be refused as not JSON.
    if ((part as { valueTruncated?: boolean }).valueTruncated) tooLong(part.fieldname);
    const value = part.value as string;
    // The parser reads a text field as UTF-8, or as Latin-1 or UTF-16LE when its part names one
    // of those (every other charset it reads as UTF-8), and writes U+FFFD for each byte that is
    // not UTF-8: a Latin-1 "café" sent unnamed would be kept as "caf�". It reads
    // windows-1252 as Latin-1, which makes its € and curly quotes C1 control characters.
    if (value.includes('\uFFFD')) fieldProblem(part.fieldname, NOT_UTF8_TEXT);
    if (C1_CONTROLS.test(value)) fieldProblem(part.fieldname, C1_TEXT);
    addField(upload, part.fieldname, value);
  }
}

/** Keeps a text field; the parser keeps the last of a repeated one, silently, so a repeated `priority` would be half ignored. */
function addField(upload: ReadUpload, name: string, value: string): void {
  if (Object.hasOwn(upload.fields, name)) fieldProblem(name, 'is given more than once; send it once');
  upload.fields[name] = value;
}

/** Said of a text field holding bytes that are not UTF-8 (or U+FFFD itself, which the parser's decoding cannot be told from). */
const NOT_UTF8_TEXT =
  'holds bytes that are not UTF-8 (read as U+FFFD, "\uFFFD"); send it as UTF-8. Of other charsets named on a part (its Content-Type\'s charset) only ISO-8859-1 and UTF-16LE are read';

/** C1 control characters, U+0080 to U+009F: no text holds them, and windows-1252 read as Latin-1 gives them. */
const C1_CONTROLS = /[\u0080-\u009f]/;

const C1_TEXT = 'holds control characters U+0080 to U+009F, which windows-1252 text named ISO-8859-1 or windows-1252 becomes (its € and curly quotes); send it as UTF-8';

function tooLong(name: string): never {
  fieldProblem(name, `is longer than ${FIELD_BYTES / 1024} KiB, the most a form field may hold`);
}

/**
 * A text field typed JSON, read as a stream: as its JSON, when that is a string (`"high"`) or a
 * number (`3.0` is `3`), else as its text (metadata's object, parsed by the schema). Checked
 * before it is parsed, as a JSON body is (plugins/json-body.ts): JSON.parse would hold the event
 * loop on deep nesting.
 */
async function jsonFieldText(part: MultipartFile): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  // Read to its end even when too long, so the parser goes on to the parts after it.
  for await (const chunk of part.file as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes <= FIELD_BYTES) chunks.push(chunk);
  }
  // Cut by the parser at the size it reads of a stream, FIELD_BYTES or more.
  if (bytes > FIELD_BYTES || (part.file as { truncated?: boolean }).truncated === true) tooLong(part.fieldname);
  const declared = 'is declared as JSON (Content-Type: application/json) but';
  const text = decodedJson(Buffer.concat(chunks));
  if (text === undefined) fieldProblem(part.fieldname, `${declared} is not UTF-8, as JSON is (a byte-order mark is taken, a charset parameter is not); send it as UTF-8`);
  const excess = jsonPastLimits(text, MAX_BODY_DEPTH, FIELD_JSON_CONTAINERS);
  if (excess === 'depth') fieldProblem(part.fieldname, `${declared} nests arrays and objects more than ${MAX_BODY_DEPTH} levels deep; ${FORM_JSON}`);
  if (excess === 'containers') fieldProblem(part.fieldname, `${declared} holds more than ${FIELD_JSON_CONTAINERS.toLocaleString('en-US')} objects and arrays; ${FORM_JSON}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fieldProblem(part.fieldname, `${declared} is not valid JSON; send valid JSON, or send the field without a type`);
  }
  if (typeof value === 'string') return value;
  return typeof value === 'object' && value !== null ? text : JSON.stringify(value);
}

/**
 * JSON's bytes as text: UTF-8 (RFC 8259), after a byte-order mark if there is one (PowerShell
 * writes one), or UTF-16 after its own mark. Undefined for bytes that are not UTF-8.
 */
function decodedJson(bytes: Buffer): string | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  return isUtf8(body) ? body.toString('utf8') : undefined;
}

/** Said of a text field typed JSON holding more than the form takes. */
const FORM_JSON = 'no field of this form holds more than one object (metadata, of strings)';

/** The problem for a form with a second file: `files` are its files, as the parser met them. */
function oneFileOnly(files: FormPart[]): never {
  const [first, second] = files;
  if (second && TEXT_FIELDS.has(second.name)) sentAsFile(second.name, second.filename);
  const which = !first || !second ? '' : first.name === 'file' ? `; a second came in the field "${second.name}"` : `; this form has files in the fields "${first.name}" and "${second.name}"`;
  const errors = second ? [{ path: `body.${second.name}`, message: 'is a second file: send one file per request, in the field named "file"' }] : [];
  throw new ProblemError('invalid-request', `Send one file per request, in the field named "file"${which}.`, errors.length > 0 ? { errors } : {});
}

function fieldProblem(name: string, message: string): never {
  const { detail, errors } = invalidRequest(plainErrors([{ path: `body.${name}`, message }]));
  throw new ProblemError('invalid-request', detail, { errors });
}

/**
 * An upload whose Content-Length is more than any form this route takes is refused on its
 * headers: before its body is read, before it waits for room in the body budget, and without
 * the 100 Continue a client sending `Expect: 100-continue` waits for (see expect-continue.ts).
 */
function refuseLargerThan(mostBytes: number, maxDocumentBytes: number): onRequestHookHandler {
  return (request, reply, done) => {
    const declared = Number(request.headers['content-length']);
    if (declared > mostBytes) {
      // As Fastify closes after a body it refused: the client may still send the bytes, which
      // Node would otherwise read (and throw away) to keep the connection.
      reply.header('connection', 'close');
      done(
        new ProblemError(
          'payload-too-large',
          `The upload is ${declared} bytes (its Content-Length); POST /documents takes at most ${mostBytes}: a file of up to ${maxDocumentBytes} bytes (MAX_DOCUMENT_BYTES) and ${FORM_BYTES} bytes for the rest of the form. Nothing was read or stored.`,
        ),
      );
      return;
    }
    done();
  };
}

const documentsRoutes: FastifyPluginAsyncZod<{ maxDocumentBytes: number; bodyBudget: BodyBudget }> = async (app, { maxDocumentBytes, bodyBudget }) => {
  // Multipart parsing, and the three hooks it adds to every request, only for this route: a JSON
  // request pays nothing for uploads, and multipart sent elsewhere gets the 415 that says where to send it.
  await app.register(multipartPlugin, { maxDocumentBytes });
  const mostBytes = maxDocumentBytes + FORM_BYTES;
  app.post(
    '/documents',
    {
      onRequest: [refuseLargerThan(mostBytes, maxDocumentBytes), bodyBudget.hook(mostBytes)],
      schema: {
        tags: ['documents'],
        operationId: 'uploadDocument',
        summary: 'Upload a document for processing',
        description:
          'multipart/form-data with the document in the field `file`; optional text fields (not files: curl -F "metadata=<meta.json", not @) `pipeline`, `priority`, `metadata` (JSON object of strings), `max_attempts`, `timeout_ms`. ' +
          `A Content-Length over MAX_DOCUMENT_BYTES plus ${FORM_BYTES / 1024 / 1024} MiB for the rest of the form is a 413 before the body is read. ` +
          'The document is stored with the job and freed when the job record expires.',
        headers: idempotencyHeadersSchema,
        response: { 202: acceptedJobSchema, 200: acceptedJobSchema, ...problemResponses(400, 413, 415, 422, 503) },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) {
        throw new ProblemError(
          'unsupported-media-type',
          `POST /documents takes multipart/form-data, not "${request.headers['content-type'] ?? '(no Content-Type)'}". Send the file as a form field named "file", e.g. curl -F file=@report.txt ${uploadUrl(request)}`,
        );
      }
      let upload: ReadUpload;
      const seen = new FormParts();
      try {
        const parts = request.parts({ isPartAFile: seen.isPartAFile, limits: { files: STREAMED_PARTS, fileSize: Math.max(maxDocumentBytes, FIELD_BYTES) }, preservePath: true });
        upload = await readUpload(parts as AsyncIterableIterator<FormPartRead>, seen, { bytes: maxDocumentBytes, tooLarge: () => new app.multipartErrors.RequestFileTooLargeError() });
      } catch (error) {
        const code = (error as { code?: string }).code;
        // A part named `constructor` or the like is refused first: a file in that field counts as
        // the form's one file, and a later "file" would seem a second.
        const prototypeNamed = code === 'FST_PROTO_VIOLATION' || code === 'FST_FILES_LIMIT' ? seen.prototypeNamed : undefined;
        if (prototypeNamed) fieldProblem(prototypeNamed.name, `is not a field this form takes; ${FORM_FIELDS}`);
        // Past STREAMED_PARTS: a second file is told as readUpload tells it, further text fields typed JSON as too many fields.
        if (code === 'FST_FILES_LIMIT' && seen.files.length > 1) oneFileOnly(seen.files);
        if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT') throw new ProblemError('invalid-request', `The form has too many fields: it takes one file and at most ${TEXT_FIELDS.size} text fields (${[...TEXT_FIELDS].join(', ')}); see GET /docs.`);
        // The form parser's own errors are plain Errors without a code (a missing boundary, a part
        // cut short). Coded ones (a file over the limit) have their problem in the error handler;
        // a TypeError or the like is a bug here, and stays a 500.
        if (code?.startsWith('FST_') || (error as Error).name !== 'Error') throw error;
        // The parser says "needle" for the boundary; RFC 2046 allows boundaries of up to 70 characters.
        const message = (error as Error).message;
        let reason = message;
        if (message.includes('needle')) reason = 'its boundary is longer than 70 characters';
        // The parser's words for a body in which the boundary Content-Type names never closes the form.
        else if (message === 'Unexpected end of multipart data') reason = `it ended before the form did: the boundary in Content-Type is not the one the body uses, or the body was cut short`;
        throw new ProblemError('malformed-form', `The multipart/form-data body could not be read (${reason}). Let the client build the form, e.g. curl -F file=@report.txt ${uploadUrl(request)}`);
      }
      if (!upload.file) {
        const hint =
          'file' in upload.fields
            ? ' The field "file" came as text, without a filename: send the file itself (with curl, -F file=@path, with the @).'
            : upload.otherFileField
              ? ` A file came in the field "${upload.otherFileField}"; name the field "file".`
              : '';
        throw new ProblemError('missing-file', `No file in the field "file".${hint} Example: curl -F file=@report.txt ${uploadUrl(request)}`);
      }
      // The file, and a text field of its name: the schema would refuse "file" as a field the form does not take, naming it among those it takes.
      if ('file' in upload.fields) fieldProblem('file', 'came twice, as the file and as a text field; send the file alone');
      if (upload.file.bytes.length === 0) throw new ProblemError('empty-file', `The uploaded file "${upload.file.filename}" is empty (0 bytes).`);

      const parsed = documentFieldsSchema.safeParse(upload.fields);
      if (!parsed.success) {
        const issues = plainErrors(parsed.error.issues.map((issue) => ({ path: ['body', ...issue.path.map(String)].join('.'), message: issue.message })));
        // The one issue of the form as a whole is a field it does not take: say which it does.
        const { detail, errors } = invalidRequest(issues.map((issue) => (issue.path === 'body' ? { ...issue, message: `${issue.message}; ${FORM_FIELDS}` } : issue)));
        throw new ProblemError('invalid-request', detail, { errors });
      }
      const { pipeline, priority, metadata, max_attempts, timeout_ms } = parsed.data;
      const submitted = await app.jobs.submitDocument(
        {
          ...upload.file,
          pipeline,
          priority,
          ...(metadata ? { metadata } : {}),
          options: Object.fromEntries(Object.entries({ max_attempts, timeout_ms }).filter(([, v]) => v !== undefined)),
        },
        request.headers['idempotency-key'],
      );
      logCreated(request.log, [submitted]);
      return reply
        .code(submitted.created ? 202 : 200)
        .header('location', jobPath(submitted.jobId))
        .send({ job_id: submitted.jobId, status: submitted.status });
    },
  );
};

export default documentsRoutes;

/** Where the client sent this upload, for the curl example in a problem: the address it used. */
function uploadUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host || 'localhost:3000'}/documents`;
}
