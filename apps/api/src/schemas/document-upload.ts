import { LANES, METADATA_KEY_CHARS } from '@conveyor/shared';
import { z } from 'zod';
import { FIELD_BYTES } from '../plugins/external/multipart.js';
import { isForbiddenKey, parseJson } from '../plugins/json-body.js';
import { MAX_BODY_DEPTH, nestedDeeperThan } from '../services/json-depth.js';
import { MAX_METADATA_FIELDS } from './create-job.js';
import { decimalInteger } from './decimal-integer.js';

/** Longest value of an upload's `metadata`, in characters. */
const METADATA_VALUE_CHARS = 1_000;

const metadataFields = z.record(z.string().max(METADATA_KEY_CHARS), z.string().max(METADATA_VALUE_CHARS));

const OBJECT_OF_STRINGS = 'must be a JSON object of string values, e.g. {"user_id":"12345"}';

/** A key as a problem shows it: a long one cut, since the problem is about its length. */
function shownKey(key: string): string {
  return key.length > 40 ? `${JSON.stringify(key.slice(0, 40))}...` : JSON.stringify(key);
}

/** What is wrong with `fields`, by the first issue metadataFields found: a bound passed is named, with the length sent. */
function metadataFault(fields: Record<string, unknown>, issue: z.core.$ZodIssue): string {
  const key = String(issue.path[0]);
  if (issue.code === 'invalid_key') return `may have keys of at most ${METADATA_KEY_CHARS} characters; ${shownKey(key)} has ${key.length}`;
  if (issue.code === 'too_big') return `may have values of at most ${METADATA_VALUE_CHARS} characters; the value of ${shownKey(key)} has ${String(fields[key]).length}`;
  return OBJECT_OF_STRINGS;
}

/** The text fields of a `POST /documents` form, beside the `file` field. */
export const documentFieldsSchema = z
  .object({
    pipeline: z.string().max(100).default('documents').describe('the pipeline (queue) to run the document through; left out, documents'),
    priority: z.enum(LANES).default('normal').describe("the lane of the job's stages: workers take high before normal before low; left out, normal"),
    metadata: z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (text === undefined) return undefined;
        // 64 KiB of brackets held the event loop for 0.1 s or more in JSON.parse (see MAX_BODY_DEPTH).
        if (nestedDeeperThan(text, MAX_BODY_DEPTH)) {
          ctx.addIssue({ code: 'custom', message: OBJECT_OF_STRINGS });
          return z.NEVER;
        }
        let value: unknown;
        try {
          // As a JSON body is read (plugins/json-body.ts): a `__proto__` key would be dropped from the stored fields unseen.
          value = parseJson(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: isForbiddenKey(error) ? 'a "__proto__" key, or a "constructor" key holding "prototype", is refused; rename or remove it' : OBJECT_OF_STRINGS });
          return z.NEVER;
        }
        if (typeof value === 'object' && value !== null && Object.keys(value).length > MAX_METADATA_FIELDS) {
          ctx.addIssue({ code: 'custom', message: `may hold at most ${MAX_METADATA_FIELDS} fields` });
          return z.NEVER;
        }
        const fields = metadataFields.safeParse(value);
        if (!fields.success) {
          ctx.addIssue({ code: 'custom', message: metadataFault(value as Record<string, unknown>, fields.error.issues[0]!) });
          return z.NEVER;
        }
        return fields.data;
      })
      .describe(`your own fields as a JSON object of strings (at most ${MAX_METADATA_FIELDS}, keys of up to ${METADATA_KEY_CHARS} characters, values of up to ${METADATA_VALUE_CHARS}; ${FIELD_BYTES / 1024} KiB of JSON in all, the most a form field holds), kept with the job, e.g. {"user_id":"12345"}`),
    max_attempts: decimalInteger(1, 100).optional().describe("attempts per stage before the job is dead-lettered, e.g. 3; left out, the pipeline's own limit if it sets one, else the workers' MAX_ATTEMPTS"),
    timeout_ms: decimalInteger(1, 86_400_000).optional().describe("an attempt running longer than this fails, e.g. 60000 for a minute; left out, the pipeline's own (10 minutes for documents and document-summary)"),
  })
  .strict();

/** What the worker reads (apps/worker/src/documents/detect-type.ts); the API stores any file. */
const DOCUMENT_FORMATS =
  'the document: PDF (with a text layer), DOCX, HTML, Markdown or plain text (UTF-8, UTF-16 with a byte-order mark, else Windows-1252). The type is read from the bytes, not the name; any other file is stored, then fails at its first stage with UNSUPPORTED_DOCUMENT, without retries';

/** The form as the OpenAPI document shows it. */
export const documentUploadSchema = {
  type: 'object' as const,
  required: ['file'],
  properties: {
    file: { type: 'string' as const, format: 'binary', description: DOCUMENT_FORMATS },
    ...(z.toJSONSchema(documentFieldsSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, object> }).properties,
  },
};
