import { TextDecoder } from 'node:util';
import type { z } from 'zod';
import { NonRetryableError } from '../../non-retryable-error.js';
import type { ProcessorHelpers } from '../../processor.js';
import { describeRejection, describeStart, describeTransportFailure, isRetryableStatus, parseRetryAfter, redactSecrets } from './endpoint-errors.js';

/** Where the adapter's models are served, read once from the worker's config. */
export interface Endpoint {
  /** OPENAI_BASE_URL, e.g. http://localhost:11434/v1; a trailing slash on its path is ignored, a query kept. */
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
}

export interface EndpointCall<Answer extends z.ZodType> {
  path: '/chat/completions' | '/embeddings';
  body: { model: string } & Record<string, unknown>;
  /** The shape a 2xx body must have, and what to call it in an error ("a chat completion"). */
  answer: Answer;
  answerName: string;
}

/**
 * The most of a 2xx body the worker reads (after any Content-Encoding is undone): 64 MiB, about
 * a thousand 3072-dimension embeddings. A longer body (or a body that never ends) is not read
 * to its end: the connection is dropped and the attempt fails with MODEL_RESPONSE_TOO_LARGE.
 */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** Of a refusal (any other status) only the start is read: its message is quoted in 500 characters at most. */
const MAX_REFUSAL_BYTES = 64 * 1024;

/** A body as read: its bytes, up to a bound, and whether that is all of it. */
interface ReadBody {
  bytes: Uint8Array;
  complete: boolean;
}

/**
 * POSTs one request and returns the parsed answer. Failures are thrown as the worker needs them:
 * a plain Error when another attempt may succeed (the endpoint is down, busy or slow; with
 * `retryAfterMs` when it said how long to wait), a NonRetryableError when it refused the
 * request, redirected it or answered nonsense, and the signal's own reason when the job was
 * cancelled, timed out or the worker is letting go of it. OPENAI_TIMEOUT_MS bounds the whole
 * exchange, the body included.
 */
export async function postToEndpoint<Answer extends z.ZodType>(
  endpoint: Endpoint,
  call: EndpointCall<Answer>,
  { signal, logger }: Pick<ProcessorHelpers, 'signal' | 'logger'>,
): Promise<z.output<Answer>> {
  const url = endpointUrl(endpoint, call.path);
  const target = describeTarget(endpoint, call.path);
  const secrets = secretsOf(endpoint);
  const timeout = AbortSignal.timeout(endpoint.timeoutMs);
  // Aborted to drop the connection once the worker has read all it will of the body.
  const drop = new AbortController();
  const started = performance.now();
  let status: number | null = null;
  try {
    let response: Response;
    let body: ReadBody;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}),
        },
        body: JSON.stringify(call.body),
        // Never followed: a 307 would send the prompt, and a same-origin one the key, where the
        // operator did not point the worker; a 301 or 302 would turn the POST into a GET.
        redirect: 'manual',
        signal: AbortSignal.any([signal, timeout, drop.signal]),
      });
      status = response.status;
      body = isRedirect(status) ? dropBody(drop) : await readBody(response, isSuccess(status) ? MAX_ANSWER_BYTES : MAX_REFUSAL_BYTES, drop);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      let what: string;
      // Node's words, not the endpoint's: they may name the host, so only the URL's credentials are taken out.
      const failure = () => redactSecrets(describeTransportFailure(error), secrets.inUrl);
      if (status === null) what = timeout.aborted ? `did not answer within ${endpoint.timeoutMs} ms` : `failed: ${failure()}`;
      else if (timeout.aborted) what = `answered ${status} but did not finish its body within ${endpoint.timeoutMs} ms`;
      else what = `answered ${status} but its body broke off: ${failure()}`;
      throw retryable(`${target} ${what}`, timeout.aborted ? 'MODEL_TIMEOUT' : 'MODEL_UNREACHABLE');
    }
    return readAnswer(call, target, response, body, secrets);
  } finally {
    logger.debug({ model: call.body.model, path: call.path, status, ms: Math.round(performance.now() - started) }, 'model endpoint request');
  }
}

/**
 * A failure the next attempt may not meet, with the code a job's error carries: MODEL_UNREACHABLE
 * (no connection, or it broke off), MODEL_TIMEOUT (OPENAI_TIMEOUT_MS), MODEL_RATE_LIMITED (429),
 * MODEL_SERVER_ERROR (408, 409, 5xx).
 */
function retryable(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Reads up to `limit` bytes of the body; past that it stops and drops the connection. */
async function readBody(response: Response, limit: number, drop: AbortController): Promise<ReadBody> {
  if (response.body === null) return { bytes: new Uint8Array(0), complete: true };
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) return dropBody(drop);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes: Buffer.concat(chunks, size), complete: true };
    if (size + value.byteLength > limit) {
      drop.abort();
      // The start of a refusal still says why; the start of an answer is of no use.
      if (limit > MAX_REFUSAL_BYTES) return { bytes: new Uint8Array(0), complete: false };
      chunks.push(value.subarray(0, limit - size));
      return { bytes: Buffer.concat(chunks, limit), complete: false };
    }
    chunks.push(value);
    size += value.byteLength;
  }
}

/**
 * The answer, or the error it makes. `target` shows no credential (see describeTarget); what the
 * endpoint wrote (a message, a body's start, a Location) may echo one, and is redacted before
 * it is cut to length, so that no part of a secret is left at the cut.
 */
function readAnswer<Answer extends z.ZodType>(call: EndpointCall<Answer>, target: string, response: Response, body: ReadBody, secrets: Secrets): z.output<Answer> {
  const { status } = response;
  if (isRedirect(status)) {
    const location = response.headers.get('location');
    const where = location === null ? 'without a Location' : `to ${describeLocation(location, response.url, secrets.all)}`;
    const message = `${target} answered ${status}, a redirect ${where}; redirects are not followed (the key and the prompt stay with OPENAI_BASE_URL): set OPENAI_BASE_URL to where the endpoint is`;
    throw new NonRetryableError(message, 'MODEL_REQUEST_REJECTED');
  }
  if (!isSuccess(status)) {
    // Parsed as it came (a key "null" redacted first would break the JSON), redacted in describeRejection;
    // a refusal read only in part may end in the start of a key.
    const read = new TextDecoder().decode(body.bytes);
    const text = body.complete ? read : redactCutSecret(read, secrets.all);
    const message = `${target} answered ${status}${describeRejection(text, secrets.all)}`;
    if (!isRetryableStatus(status)) throw new NonRetryableError(message, 'MODEL_REQUEST_REJECTED');
    const code = status === 429 ? 'MODEL_RATE_LIMITED' : 'MODEL_SERVER_ERROR';
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    if (retryAfterMs === undefined) throw retryable(message, code);
    // The worker waits at least this long before the next attempt, within the job's max_delay_ms.
    throw Object.assign(retryable(`${message} (Retry-After: ${Math.round(retryAfterMs / 1_000)} s)`, code), { retryAfterMs });
  }
  if (!body.complete) {
    throw new NonRetryableError(
      `${target} answered ${status} with a body over ${MAX_ANSWER_BYTES / 1024 / 1024} MiB; the worker stopped reading it (ask for fewer inputs or tokens)`,
      'MODEL_RESPONSE_TOO_LARGE',
    );
  }
  const contentType = response.headers.get('content-type');
  const shownType = contentType === null ? 'no content-type' : redactSecrets(contentType, secrets.all).slice(0, 200);
  const text = decodeAnswer(body.bytes, contentType ?? '', `${target} answered ${status}`, shownType);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse quotes a few characters of the text in its error: those of the redacted text.
    const shown = redactSecrets(text, secrets.all);
    throw new NonRetryableError(`${target} answered ${status} with a body that is not JSON (${shownType}, ${jsonError(shown)}): ${describeStart(shown)}`, 'MODEL_BAD_RESPONSE');
  }
  const checked = call.answer.safeParse(parsed);
  if (!checked.success) {
    const problems = checked.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
    const described = redactSecrets(problems.join('; '), secrets.all);
    throw new NonRetryableError(`${target} answered ${status} with a body that is not ${call.answerName} (${described})`, 'MODEL_BAD_RESPONSE');
  }
  return checked.data;
}

/**
 * A 2xx body as text: in the charset its Content-Type names, UTF-8 (JSON's own) if none. Bytes
 * that are not text in that charset fail the attempt rather than reach the result as U+FFFD.
 */
function decodeAnswer(bytes: Uint8Array, contentType: string, answered: string, shownType: string): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1] ?? 'utf-8';
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset, { fatal: true });
  } catch {
    throw new NonRetryableError(`${answered} in a charset the worker does not know (${shownType})`, 'MODEL_BAD_RESPONSE');
  }
  try {
    return decoder.decode(bytes);
  } catch {
    throw new NonRetryableError(`${answered} with a body that is not valid ${decoder.encoding} (${shownType})`, 'MODEL_BAD_RESPONSE');
  }
}

function isRedirect(status: number): boolean {
  return status >= 300 && status <= 399;
}

function dropBody(drop: AbortController): ReadBody {
  drop.abort();
  return { bytes: new Uint8Array(0), complete: false };
}

function isSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}

/** What JSON.parse says of `text`, which it did not take. */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
    // The redaction made it JSON.
    return 'not JSON';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * A redirect's Location, resolved against the request's URL, without user, password or credential
 * in its query; one that is no URL, quoted, with `secrets` redacted before it is cut.
 */
function describeLocation(location: string, base: string, secrets: readonly string[]): string {
  if (!URL.canParse(location, base)) return JSON.stringify(redactSecrets(location, secrets).slice(0, 200));
  return withoutCredentials(new URL(location, base));
}

/** `text`, cut short, with an end that is the start of a secret (4 characters or more of it) redacted too. */
function redactCutSecret(text: string, secrets: readonly string[]): string {
  for (const secret of secrets) {
    for (let length = Math.min(secret.length - 1, text.length); length >= 4; length--) {
      if (text.endsWith(secret.slice(0, length))) return `${text.slice(0, text.length - length)}[redacted]`;
    }
  }
  return text;
}

/** The URL of `path` at the endpoint: appended to the base URL's path, its query kept (`?api-version=...`). */
export function endpointUrl(endpoint: Endpoint, path: EndpointCall<z.ZodType>['path']): URL {
  const url = new URL(endpoint.baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.hash = '';
  return url;
}

/**
 * `POST <url>` as error messages show it: without user and password, should the base URL hold
 * them, and with `[redacted]` for the value of each query parameter that carries a credential.
 * It is built so, not redacted afterwards: an API key that is also a word of the URL (`ollama`
 * in `http://ollama:11434/v1`) would otherwise blank out the host the operator needs to see.
 */
export function describeTarget(endpoint: Endpoint, path: EndpointCall<z.ZodType>['path']): string {
  return `POST ${withoutCredentials(endpointUrl(endpoint, path))}`;
}

/** Query parameters that carry a credential (`?key=`, `?api_key=`, `?access_token=`, `?sig=`) rather than a setting. */
const CREDENTIAL_PARAMETER = /key|token|secret|sig|auth|pass|pwd|code|jwt|credential/i;

/** `url` as text, without user and password, each credential parameter's value `[redacted]`, the rest of the query as spelled. */
function withoutCredentials(url: URL): string {
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
  shown.search = '';
  const query = queryPairs(url.search)
    .map((pair) => (pair.credential ? `${pair.name}=[redacted]` : pair.spelled))
    .join('&');
  return `${shown.href.replace(/#.*$/, '')}${query ? `?${query}` : ''}`;
}

interface QueryPair {
  /** The pair as the URL spells it (percent-encoded), and its name and value so. */
  spelled: string;
  name: string;
  value: string | undefined;
  /** Whether it has a value and its name (decoded) is a credential's. */
  credential: boolean;
}

/** A query's `name=value` pairs as spelled; a value may hold `=`. */
function queryPairs(search: string): QueryPair[] {
  return search
    .slice(1)
    .split('&')
    .map((spelled) => {
      const at = spelled.indexOf('=');
      const name = at === -1 ? spelled : spelled.slice(0, at);
      const value = at === -1 ? undefined : spelled.slice(at + 1);
      return { spelled, name, value, credential: value !== undefined && CREDENTIAL_PARAMETER.test(safeDecode(name)) };
    });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * What must not reach an error: `inUrl`, the base URL's password and credential parameters;
 * `all`, those and the API key. Each as it is and as JSON spells it inside a string (a key
 * holding `"` or a backslash, echoed in a JSON body), longest first, so that one holding another is
 * redacted whole.
 */
interface Secrets {
  inUrl: string[];
  all: string[];
}

function secretsOf(endpoint: Endpoint): Secrets {
  const { password, search, searchParams } = new URL(endpoint.baseUrl);
  const decoded = [...searchParams].filter(([name]) => CREDENTIAL_PARAMETER.test(name)).map(([, value]) => value);
  // Each value as the URL spells it too (percent-encoded).
  const spelled = queryPairs(search).flatMap((pair) => (pair.credential ? [pair.value!] : []));
  const inUrl = spellings([password, password && safeDecode(password), ...decoded, ...spelled]);
  return { inUrl, all: spellings([endpoint.apiKey, ...inUrl]) };
}

/**
 * The fewest characters a value must have to be looked for in what an endpoint says. A shorter one
 * is a placeholder, not a secret (`ollama`, `x`, `-`, which Ollama and vLLM without --api-key
 * ignore), and redacting it would blank words of every message ("does not e[redacted]ist").
 */
const MIN_SECRET_CHARS = 8;

function spellings(secrets: (string | undefined)[]): string[] {
  const present = secrets.filter((secret): secret is string => secret !== undefined && secret.length >= MIN_SECRET_CHARS);
  const forms = new Set(present.flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]));
  return [...forms].sort((a, b) => b.length - a.length);
}
