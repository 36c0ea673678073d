import { z } from 'zod';

const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, a number, true or false' });

/** Longest key of a job's `metadata` (an inference job's or an upload's), in characters. */
export const METADATA_KEY_CHARS = 100;

/**
 * A field another producer may write as JSON text (XADD can only write strings): taken as the
 * JSON it holds, or as itself when it holds none, for `schema` to judge.
 */
function orJsonText<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
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
 * The input of an inference job as the API stores it and the worker reads it.
 * Jobs XADDed by other producers carry the same names as plain string fields
 * (`model echo prompt hi`); `params` and `metadata` may then be JSON strings.
 */
export const inferencePayloadSchema = z
  .object({
    model: z.string().min(1).max(200).describe('model name; see GET /models'),
    prompt: z.string().max(1_000_000).optional().describe('text for the model'),
    params: orJsonText(z.record(z.string(), z.unknown()))
      .optional()
      .describe('model parameters, e.g. {"sleep_ms": 50} for echo; GET /models lists the keys each model reads, and POST /jobs refuses others'),
    // As JSON text too, from another producer: it was dead-lettered as "expected record, received string".
    metadata: orJsonText(jobMetadataSchema)
      .optional()
      .describe('your own fields (user id, request id ...), kept with the job'),
  })
  .catchall(z.unknown());
export type InferencePayload = z.output<typeof inferencePayloadSchema>;
