import { LANES } from '@conveyor/shared';
import { z } from 'zod';
import { decimalInteger } from './decimal-integer.js';

/** The text fields of a `POST /documents` form, beside the `file` field. */
export const documentFieldsSchema = z
  .object({
    pipeline: z.string().max(100).default('documents').describe('the pipeline (queue) to run the document through'),
    priority: z.enum(LANES).default('normal'),
    metadata: z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (text === undefined) return undefined;
        try {
          return z.record(z.string().max(100), z.string().max(1_000)).parse(JSON.parse(text));
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON object of string values, e.g. {"user_id":"12345"}' });
          return z.NEVER;
        }
      })
      .describe('your own fields as a JSON object of strings, kept with the job'),
    max_attempts: decimalInteger(1, 100).optional().describe('attempts per stage before the job is dead-lettered'),
    timeout_ms: decimalInteger(1, 86_400_000).optional().describe('an attempt running longer than this fails'),
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
