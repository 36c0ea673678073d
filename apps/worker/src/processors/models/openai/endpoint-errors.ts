/**
 * Whether another attempt can help after an endpoint answered `status`: yes when it
 * timed out (408), hit a conflict (409), is rate limiting (429) or failed itself (5xx); any other
 * refusal (bad request, wrong key, unknown model) will be the same next time.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

const longestQuoted = 500;

/**
 * `: <the endpoint's message>` from an error body, or '' if it has none, with `secrets` redacted
 * before it is cut. OpenAI and Ollama answer `{"error": {"message": ...}}`, older vLLM
 * `{"object": "error", "message": ...}`, some proxies `{"error": "..."}` or plain text, FastAPI
 * servers (vLLM's, TGI's request validation) `{"detail": [{"loc": [...], "msg": ...}]}`.
 */
export function describeRejection(text: string, secrets: readonly string[]): string {
  let message: unknown;
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body)) {
      const error = body['error'];
      message = isRecord(error) ? error['message'] : (error ?? body['message'] ?? validationDetail(body['detail']));
    }
  } catch {
    // Not JSON: a proxy's page. Its text is the message, unless it is markup.
    message = /^\s*</.test(text) ? undefined : text;
  }
  if (typeof message !== 'string') return '';
  const oneLine = redactSecrets(message, secrets).replace(/\s+/g, ' ').trim();
  if (!oneLine) return '';
  return `: ${oneLine.length > longestQuoted ? `${oneLine.slice(0, longestQuoted)}…` : oneLine}`;
}

/** Why fetch could not get an answer: undici hides the socket error (ECONNREFUSED ...) in `cause`. */
export function describeTransportFailure(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  if (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    // Several addresses (localhost: ::1 and 127.0.0.1) fail as one AggregateError with an empty message.
    const message = cause instanceof AggregateError && !cause.message ? cause.errors.map((inner: unknown) => String((inner as Error)?.message ?? inner)).join('; ') : cause.message;
    if (code && !message.includes(code)) return `${code} ${message}`.trim();
    if (message) return message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** An endpoint may echo the key it was sent ("Incorrect API key provided: sk-..."): never pass it on. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  return secrets.reduce((redacted, secret) => redacted.split(secret).join('[redacted]'), text);
}

/** A `detail` as text: a string as it is, FastAPI's list of `{loc, msg}` as `body.messages: field required; …`. */
function validationDetail(detail: unknown): string | undefined {
  if (typeof detail === 'string') return detail;
  if (!Array.isArray(detail)) return undefined;
  const faults = detail.filter(isRecord).flatMap((fault) => {
    if (typeof fault['msg'] !== 'string') return [];
    const where = Array.isArray(fault['loc']) ? fault['loc'].map(String).join('.') : '';
    return [where ? `${where}: ${fault['msg']}` : fault['msg']];
  });
  return faults.length > 0 ? faults.join('; ') : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The longest Retry-After taken from an endpoint: a day (the job's backoff max_delay_ms bounds it further). */
const longestRetryAfterMs = 86_400_000;

/**
 * How long an endpoint asked to be left alone (`Retry-After`: whole seconds, or an HTTP date), in
 * ms from `now`; undefined when it did not say or said nonsense (a negative number, `1e9`, a
 * date without GMT). A date in the past is 0; anything is at most a day.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1_000, longestRetryAfterMs);
  // Date.parse takes nearly anything ("-1" is a date in year -1); an HTTP date ends in GMT.
  if (!/^[a-z]{3},? .* GMT$/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), longestRetryAfterMs);
}

/** The start of a body that should have been JSON, on one line, to show what came instead (a proxy's HTML page). */
export function describeStart(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  if (!oneLine) return 'an empty body';
  const shown = 120;
  return JSON.stringify(oneLine.length > shown ? `${oneLine.slice(0, shown)}…` : oneLine);
}
