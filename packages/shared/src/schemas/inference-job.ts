import { z } from 'zod';

const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, a number, true or false' });

/** Longest key of a job's `metadata` (an inference job's or an upload's), in characters. */
export const METADATA_KEY_CHARS = 100;

/**
 * A field another producer may write as JSON text (XADD can only write strings): taken as the
 * JSON it holds, for `schema` to judge. Text that is not JSON is refused, saying so (it was told
 * "expected record, received string"), with `example` of what to write.
 */
function orJsonText<T extends z.ZodType>(schema: T, example: string) {
  return z.preprocess((value, ctx) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `is text that is not JSON (${(error as Error).message}); XADD it as the JSON text of an object, e.g. '${example}'` });
      return z.NEVER;
    }
  }, schema);
}

/**
 * A job's `metadata` as an object: the API takes only this (it counts the fields before, and
 * parses its bodies with checks of its own); the worker reads an XADDed job's as JSON text too.
 */
export const jobMetadataSchema = z.record(z.string().max(METADATA_KEY_CHARS), scalar, {
  error: (issue) => (issue.code === 'invalid_key' ? `is a key longer than ${METADATA_KEY_CHARS} characters, the most a metadata key may have` : undefined),
});

/**
 * The metadata an XADDed job's `metadata` text holds: the object, when it is the JSON text of one
 * the API would take; else undefined, and the text is kept as it is. The text of an object the API
 * would refuse (a nested value, a key over 100 characters) is kept too: metadata no model reads
 * dead-lettered the job.
 */
export function metadataOfText(text: string): z.infer<typeof jobMetadataSchema> | undefined {
  try {
    const parsed = jobMetadataSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** `metadata` as the worker reads it: an object, or text, read as metadataOfText says. */
const xaddedMetadata = z.preprocess(
  (value) => (typeof value === 'string' ? (metadataOfText(value) ?? value) : value),
  z.unknown().superRefine((value, ctx) => {
    if (typeof value === 'string') return;
    const parsed = jobMetadataSchema.safeParse(value);
    if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  }),
);

/**
 * The input of an inference job as the API stores it and the worker reads it.
 * Jobs XADDed by other producers carry the same names as plain string fields
 * (`model echo prompt hi`); `params` and `metadata` may then be JSON strings.
 */
export const inferencePayloadSchema = z
  .object({
    model: z.string().min(1).max(200).describe('model name; see GET /models'),
    prompt: z.string().max(1_000_000).optional().describe('text for the model'),
    params: orJsonText(z.record(z.string(), z.unknown()), '{"sleep_ms":100}')
      .optional()
      .describe('model parameters, e.g. {"sleep_ms": 50} for echo; GET /models lists the keys each model reads, and POST /jobs refuses others'),
    // From another producer, JSON text of an object is that object (it was dead-lettered as
    // "expected record, received string"), and any other text is kept as it is: a free-form field
    // the job's work does not read fails no job.
    metadata: xaddedMetadata.optional().describe('your own fields (user id, request id ...), kept with the job'),
  })
  .catchall(z.unknown());
export type InferencePayload = z.output<typeof inferencePayloadSchema>;
