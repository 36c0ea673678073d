import { z } from 'zod';
import type { ModelKind } from './models.js';
import type { InferencePayload } from './schemas/inference-job.js';

/**
 * A request its model cannot run, and which field to change. The API refuses such a request
 * with a 400 when it is posted (`field` under `body`); a worker that meets one (in a job another
 * producer queued) dead-letters the job with code INVALID_PARAMS, as no retry can help.
 */
export class ModelInputError extends Error {
  readonly code = 'INVALID_PARAMS';

  constructor(
    /** Where in the request: `prompt`, `params.sleep_ms`. */
    readonly field: string,
    /** What is wrong with it, said of the field: "must be true or false, got 1". */
    readonly problem: string,
    message = `${field} ${problem}`,
  ) {
    super(message);
    this.name = 'ModelInputError';
  }
}

/** The sampling and format params a chat model passes on to its endpoint, besides `messages` and `system`. */
export const CHAT_PASSED_PARAMS = ['temperature', 'top_p', 'max_tokens', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'response_format'] as const;

/** The params an embedding model passes on to its endpoint, besides `input`: `dimensions` shortens vectors on models that support it (text-embedding-3-*). */
export const EMBEDDING_PASSED_PARAMS = ['dimensions'] as const;

const builtinParams: Record<string, readonly string[]> = { echo: ['sleep_ms', 'progress', 'fail', 'fail_until'], summarize: ['sentences'] };
const chatParams: readonly string[] = ['messages', 'system', ...CHAT_PASSED_PARAMS];
const embeddingParams: readonly string[] = ['input', ...EMBEDDING_PASSED_PARAMS];

/** The `params` keys a model reads (GET /models lists them); a model drops any other unread. */
export function paramsOf(kind: ModelKind, model: string): readonly string[] {
  if (kind === 'chat') return chatParams;
  if (kind === 'embedding') return embeddingParams;
  return builtinParams[model] ?? [];
}

/** A character that shows: not a space, a control character or an invisible format one (U+200B). */
const VISIBLE = /[^\s\p{Cc}\p{Cf}]/u;

/** The prompt of a request to a model that reads text; a missing or blank one (nothing that shows) is refused. */
export function requirePrompt(request: InferencePayload): string {
  const prompt = request.prompt;
  if (prompt === undefined || !VISIBLE.test(prompt)) throw new ModelInputError('prompt', `must be a non-empty text: model "${request.model}" works on it`, `model "${request.model}" needs a non-empty "prompt": the text to work on`);
  return prompt.trim();
}

/** A text with something in it that shows. */
const shownText = z.string().regex(VISIBLE, 'holds nothing that shows (only spaces or invisible characters)');

/** `params[name]` checked against `schema`. */
export function readParam<Schema extends z.ZodType>(params: Record<string, unknown>, name: string, schema: Schema, expected: string): z.output<Schema> {
  const parsed = schema.safeParse(params[name]);
  if (!parsed.success) throw new ModelInputError(`params.${name}`, `must be ${expected}: ${z.prettifyError(parsed.error).replace(/\s+/g, ' ')}`);
  return parsed.data;
}

export interface EchoParams {
  sleepMs: number;
  progress: boolean;
  /** Fail every attempt ('always'), or the first this many. */
  fail: 'always' | number | undefined;
  /** Fail until this time (ms since the epoch). */
  failUntil: number | undefined;
}

/** echo's params: see the echo model. */
export function readEchoParams(params: Record<string, unknown> = {}): EchoParams {
  const sleepMs = Number(params['sleep_ms'] ?? 0);
  if (!Number.isFinite(sleepMs) || sleepMs < 0 || sleepMs > 3_600_000) {
    throw new ModelInputError('params.sleep_ms', `must be a number of milliseconds from 0 to 3600000, got ${JSON.stringify(params['sleep_ms'])}`);
  }
  const progress = params['progress'];
  if (progress !== undefined && typeof progress !== 'boolean') throw new ModelInputError('params.progress', `must be true or false, got ${JSON.stringify(progress)}`);
  const fail = params['fail'];
  if (fail !== undefined && fail !== 'always' && !(Number.isInteger(fail) && (fail as number) >= 0)) {
    throw new ModelInputError('params.fail', `must be "always" or a number of attempts, got ${JSON.stringify(fail)}`);
  }
  const failUntil = params['fail_until'];
  let until: number | undefined;
  if (failUntil !== undefined) {
    until = typeof failUntil === 'number' ? failUntil : Date.parse(String(failUntil));
    if (Number.isNaN(until)) throw new ModelInputError('params.fail_until', `must be a time, got ${JSON.stringify(failUntil)}`);
  }
  return { sleepMs, progress: progress === true, fail: fail as EchoParams['fail'], failUntil: until };
}

/** summarize's `params.sentences`: 1 to 20, 3 when not given. */
export function readSummaryLength(params: Record<string, unknown> = {}): number {
  const requested = params['sentences'] ?? 3;
  // Jobs XADDed by other producers carry params as strings.
  const count = typeof requested === 'string' && /^\d+$/.test(requested) ? Number(requested) : requested;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 20) {
    throw new ModelInputError('params.sentences', `must be a whole number from 1 to 20, got ${JSON.stringify(requested)}`);
  }
  return count;
}

export interface ChatMessage {
  role: string;
  content: string | Record<string, unknown>[];
}

const chatMessages = z
  .array(z.looseObject({ role: z.string().min(1), content: z.union([z.string(), z.array(z.record(z.string(), z.unknown()))]) }))
  .min(1)
  .optional();

/**
 * The types OpenAI's API gives the params a chat or embedding model passes on, with the bounds
 * every such server keeps (a temperature is not negative, top_p is a share). `null` is unset, as
 * OpenAI's own client types have it. Finer bounds (temperature at most 2 on OpenAI, not on vLLM)
 * are the endpoint's to judge.
 */
const PASSED_PARAM_TYPES: Record<(typeof CHAT_PASSED_PARAMS)[number] | (typeof EMBEDDING_PASSED_PARAMS)[number], [z.ZodType, string]> = {
  temperature: [z.number().min(0), 'a number, 0 or more'],
  top_p: [z.number().min(0).max(1), 'a number from 0 to 1'],
  max_tokens: [z.number().int().min(1), 'a whole number, 1 or more'],
  // vLLM's default is [].
  stop: [z.union([z.string(), z.array(z.string())]), 'a string or an array of strings'],
  seed: [z.number().int(), 'a whole number'],
  presence_penalty: [z.number(), 'a number'],
  frequency_penalty: [z.number(), 'a number'],
  response_format: [z.looseObject({ type: z.string().min(1) }), 'an object with a "type" ("text", "json_object", "json_schema")'],
  dimensions: [z.number().int().min(1), 'a whole number, 1 or more'],
};

/**
 * A chat model's conversation: `params.messages` as given or, without them, the prompt as the
 * user's message after `params.system` if there is one. This is the worker's reading, and takes
 * what the API took before it checked more (see checkEndpointInput): a job queued then, or by
 * another producer, runs as it would have.
 */
export function readChatMessages(request: InferencePayload): ChatMessage[] {
  const params = request.params ?? {};
  const messages = readParam(params, 'messages', chatMessages, 'a non-empty array of {role, content}');
  if (messages) return messages;
  const system = readParam(params, 'system', z.string().optional(), 'a string');
  if (!request.prompt) throw new ModelInputError('prompt', 'is required by a chat model, unless params.messages is given', 'a chat model needs a prompt or params.messages');
  return [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: request.prompt }];
}

const embeddingInput = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional();

/** What an embedding model embeds: `params.input` (a string or an array of strings) or else the prompt (the worker's reading, as readChatMessages). */
export function readEmbeddingInput(request: InferencePayload): string | string[] {
  const texts = readParam(request.params ?? {}, 'input', embeddingInput, 'a non-empty string or a non-empty array of them') ?? request.prompt;
  if (!texts) throw new ModelInputError('prompt', 'is required by an embedding model, unless params.input is given', 'an embedding model needs a prompt or params.input');
  return texts;
}

const shownTexts = z.union([shownText, z.array(shownText)]);

/**
 * What the API refuses of a request for a chat or embedding model beyond what the worker's
 * reading refuses: a blank prompt or input text, both forms of the input at once (one would be
 * left unread), and a passed-on param of the wrong type (the endpoint's 400 would dead-letter the
 * job later). Workers do not check these, so jobs queued before, or by other producers, run.
 */
function checkEndpointInput(kind: 'chat' | 'embedding', request: InferencePayload): void {
  const params = request.params ?? {};
  const [alternative, both] =
    kind === 'chat'
      ? ['messages', 'put it in params.messages as a {"role": "user"} message, or send prompt alone']
      : ['input', 'send the text in one of them'];
  if (params[alternative] !== undefined) {
    if (request.prompt !== undefined) throw new ModelInputError('prompt', `cannot be given with params.${alternative}, which would leave it unread: ${both}`);
    if (kind === 'chat' && params['system'] !== undefined) throw new ModelInputError('params.system', 'cannot be given with params.messages, which would leave it unread: put it first in params.messages as a {"role": "system"} message');
    if (kind === 'embedding') readParam(params, 'input', shownTexts, 'a text or a non-empty array of texts, each with something in it');
  } else {
    requirePrompt(request);
  }
  for (const name of kind === 'chat' ? CHAT_PASSED_PARAMS : EMBEDDING_PASSED_PARAMS) {
    if (params[name] === undefined || params[name] === null) continue;
    const [schema, expected] = PASSED_PARAM_TYPES[name];
    readParam(params, name, schema, expected);
  }
}

/**
 * Reads a request as its model will (a model named in the catalogue), throwing the
 * ModelInputError the model would meet: the API checks what it is sent with this, so a request
 * a worker would dead-letter at once is a 400 instead. A `params` key the model does not read is
 * refused too, so that a misspelt one (`sentence` for `sentences`) is not dropped in silence; a
 * worker running a job another producer queued ignores such keys, as before. A chat or embedding
 * model's request is checked further (checkEndpointInput).
 */
export function checkModelInput(kind: ModelKind, request: InferencePayload): void {
  refuseUnreadParams(kind, request);
  if (kind === 'chat') return void (readChatMessages(request), checkEndpointInput(kind, request));
  if (kind === 'embedding') return void (readEmbeddingInput(request), checkEndpointInput(kind, request));
  if (request.model === 'echo') return void readEchoParams(request.params);
  requirePrompt(request);
  if (request.model === 'summarize') readSummaryLength(request.params);
}

/** The first `params` key the model does not read, refused with the keys it does. */
function refuseUnreadParams(kind: ModelKind, request: InferencePayload): void {
  const taken = paramsOf(kind, request.model);
  for (const name of Object.keys(request.params ?? {})) {
    if (taken.includes(name)) continue;
    const takes = taken.length === 0 ? 'takes no params' : `takes ${taken.map((key) => `"${key}"`).join(', ')}`;
    throw new ModelInputError(`params.${name}`, `is not a param of model "${request.model}", which ${takes}`);
  }
}
