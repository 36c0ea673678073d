import type { z } from 'zod';
import { NonRetryableError } from '../../non-retryable-error.js';
import type { ProcessorHelpers } from '../../processor.js';
import { describeRejection, describeTransportFailure, isRetryableStatus, redactSecrets } from './endpoint-errors.js';

/** Where the adapter's models are served, read once from the worker's config. */
export interface Endpoint {
  /** OPENAI_BASE_URL without a trailing slash, e.g. http://localhost:11434/v1. */
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
 * POSTs one request and returns the parsed answer. Failures are thrown as the worker needs them:
 * a plain Error when another attempt may succeed (the endpoint is down, busy or slow), a
 * NonRetryableError when it refused the request or answered nonsense, and the signal's own
 * reason when the job was cancelled, timed out or the worker is letting go of it.
 */
export async function postToEndpoint<Answer extends z.ZodType>(
  endpoint: Endpoint,
  call: EndpointCall<Answer>,
  { signal, logger }: Pick<ProcessorHelpers, 'signal' | 'logger'>,
): Promise<z.output<Answer>> {
  const url = `${endpoint.baseUrl}${call.path}`;
  const target = describeTarget(endpoint, call.path);
  const secrets = secretsOf(endpoint);
  const timeout = AbortSignal.timeout(endpoint.timeoutMs);
  const started = performance.now();
  let status: number | null = null;
  try {
    let text: string;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}),
        },
        body: JSON.stringify(call.body),
        signal: AbortSignal.any([signal, timeout]),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const what = timeout.aborted ? `did not answer within ${endpoint.timeoutMs} ms` : `failed: ${describeTransportFailure(error)}`;
      throw new Error(redactSecrets(`${target} ${what}`, secrets));
    }
    return readAnswer(call, target, status, text, secrets);
  } finally {
    logger.debug({ model: call.body.model, path: call.path, status, ms: Math.round(performance.now() - started) }, 'model endpoint request');
  }
}

function readAnswer<Answer extends z.ZodType>(call: EndpointCall<Answer>, target: string, status: number, text: string, secrets: string[]): z.output<Answer> {
  if (status < 200 || status > 299) {
    const message = redactSecrets(`${target} answered ${status}${describeRejection(text)}`, secrets);
    if (isRetryableStatus(status)) throw new Error(message);
    throw new NonRetryableError(message, 'MODEL_REQUEST_REJECTED');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new NonRetryableError(`${target} answered ${status} with a body that is not JSON`, 'MODEL_BAD_RESPONSE');
  }
  const parsed = call.answer.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
    throw new NonRetryableError(`${target} answered ${status} with a body that is not ${call.answerName} (${problems.join('; ')})`, 'MODEL_BAD_RESPONSE');
  }
  return parsed.data;
}

/** `POST <url>` as error messages show it: without user and password, should the base URL hold them. */
export function describeTarget(endpoint: Endpoint, path: EndpointCall<z.ZodType>['path']): string {
  const shown = new URL(`${endpoint.baseUrl}${path}`);
  shown.username = '';
  shown.password = '';
  return `POST ${shown.href}`;
}

function secretsOf(endpoint: Endpoint): string[] {
  const { password } = new URL(endpoint.baseUrl);
  return [endpoint.apiKey, password, password && decodeURIComponent(password)].filter((secret): secret is string => Boolean(secret));
}
