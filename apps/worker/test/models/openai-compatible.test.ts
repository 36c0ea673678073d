import { createLogger, loadConfig, workerEnvSchema, type InferencePayload, type Logger, type WorkerConfig } from '@conveyor/shared';
import { makeTlsCertificates } from '@conveyor/testing';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, test as base, vi } from 'vitest';
import { createInfer } from '../../src/processors/infer.js';
import { createModels } from '../../src/processors/models/registry.js';
import { openAiCompatibleModels } from '../../src/processors/models/openai-compatible.js';
import { NonRetryableError } from '../../src/processors/non-retryable-error.js';
import type { ProcessorHelpers } from '../../src/processors/processor.js';
import { MAX_ANSWER_BYTES } from '../../src/processors/models/openai/endpoint.js';
import { parseRetryAfter } from '../../src/processors/models/openai/endpoint-errors.js';
import { brokenOffBody, embeddingOf, endlessBody, FakeOpenAiServer, openAiError, tricklingBody } from './fake-openai-server.js';

const test = base.extend<{ endpoint: FakeOpenAiServer }>({
  endpoint: async ({}, use) => {
    const endpoint = await FakeOpenAiServer.start({ models: ['chat-a', 'embed-a'], apiKey: 'sk-test' });
    await use(endpoint);
    await endpoint.close();
  },
});

function configFor(endpoint: FakeOpenAiServer, env: Record<string, string> = {}): WorkerConfig {
  return loadConfig(workerEnvSchema, {
    OPENAI_BASE_URL: endpoint.baseUrl,
    OPENAI_CHAT_MODELS: 'chat-a',
    OPENAI_EMBEDDING_MODELS: 'embed-a',
    OPENAI_API_KEY: 'sk-test',
    OPENAI_TIMEOUT_MS: '200ms',
    ...env,
  });
}

function helpers(overrides: Partial<ProcessorHelpers> = {}): ProcessorHelpers {
  return {
    job: { id: 'job-1', queue: 'inference', stage: 'infer', attempt: 1, maxAttempts: 3, createdAt: new Date() },
    input: undefined,
    logger: createLogger('test', 'silent'),
    signal: new AbortController().signal,
    document: async () => Buffer.alloc(0),
    stageOutput: async () => undefined,
    progress: async () => {},
    ...overrides,
  };
}

/** Runs the adapter's model `request.model` as the worker would: through the infer stage. */
async function run(config: WorkerConfig, request: InferencePayload, overrides: Partial<ProcessorHelpers> = {}): Promise<unknown> {
  const models = openAiCompatibleModels(config);
  if (!models.has(request.model)) throw new Error(`no model ${request.model}`);
  return createInfer(models)(request, helpers(overrides));
}

async function failureOf(attempt: Promise<unknown>): Promise<Error> {
  const outcome = await attempt.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(Error);
  return outcome.error as Error;
}

function expectRetryable(error: Error, code?: string): void {
  expect(error).not.toBeInstanceOf(NonRetryableError);
  if (code !== undefined) expect((error as Error & { code?: string }).code).toBe(code);
}

function expectNonRetryable(error: Error, code: string): void {
  expect(error).toBeInstanceOf(NonRetryableError);
  expect((error as NonRetryableError).code).toBe(code);
}

describe('chat models', () => {
  test('send the prompt as the user message under the model name, with the whitelisted params and the bearer key, and return the text and usage', async ({ endpoint }) => {
    const params = {
      temperature: 0.2, top_p: 0.9, max_tokens: 16, stop: ['\n'], seed: 7, presence_penalty: 0.1, frequency_penalty: 0.3, response_format: { type: 'text' },
      sleep_ms: 50, logit_bias: { '42': 10 }, stream: true, n: 3,
    };
    const output = await run(configFor(endpoint), { model: 'chat-a', prompt: 'Hello there', params });

    expect(output).toEqual({ model: 'chat-a', text: 'You said: Hello there', finish_reason: 'stop', usage: { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 } });
    expect(endpoint.requests).toHaveLength(1);
    const [sent] = endpoint.requests;
    expect(sent).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(sent!.headers).toMatchObject({ authorization: 'Bearer sk-test', 'content-type': 'application/json' });
    expect(sent!.body).toEqual({
      model: 'chat-a',
      messages: [{ role: 'user', content: 'Hello there' }],
      temperature: 0.2, top_p: 0.9, max_tokens: 16, stop: ['\n'], seed: 7, presence_penalty: 0.1, frequency_penalty: 0.3, response_format: { type: 'text' },
      stream: false,
    });
  });

  test('send params.system as a system message before the prompt', async ({ endpoint }) => {
    await run(configFor(endpoint), { model: 'chat-a', prompt: 'Hi', params: { system: 'Answer in French.' } });
    expect(endpoint.requests[0]!.body).toMatchObject({ messages: [{ role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'Hi' }] });
  });

  test('send params.messages as given, in place of the prompt', async ({ endpoint }) => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Name a colour.' },
      { role: 'assistant', content: 'Blue.' },
      { role: 'user', content: [{ type: 'text', text: 'Another.' }], name: 'ada' },
    ];
    const output = await run(configFor(endpoint), { model: 'chat-a', params: { messages } });
    expect(endpoint.requests[0]!.body).toEqual({ model: 'chat-a', messages, stream: false });
    expect(output).toMatchObject({ text: expect.stringContaining('You said:') });
  });

  test('refuse bad params.messages, a non-string params.system, or neither prompt nor messages as INVALID_PARAMS, without calling the endpoint', async ({ endpoint }) => {
    const config = configFor(endpoint);
    const invalid: InferencePayload[] = [
      { model: 'chat-a', params: { messages: [] } },
      { model: 'chat-a', params: { messages: 'hello' } },
      { model: 'chat-a', params: { messages: [{ role: 'user' }] } },
      { model: 'chat-a', params: { messages: [{ content: 'no role' }] } },
      { model: 'chat-a', prompt: 'Hi', params: { system: 42 } },
      { model: 'chat-a' },
      { model: 'chat-a', prompt: '' },
      { model: 'chat-a', params: { temperature: 0 } },
    ];
    for (const request of invalid) {
      const error = await failureOf(run(config, request));
      expectNonRetryable(error, 'INVALID_PARAMS');
      expect(error.message).toMatch(/params\.(messages|system)|prompt/);
    }
    expect(endpoint.requests).toEqual([]);
  });

  test('run a job the API would now refuse as it ran before (one queued earlier, or by another producer): messages win over a prompt, params go as given, null too', async ({ endpoint }) => {
    const messages = [{ role: 'user', content: 'm' }];
    await run(configFor(endpoint), { model: 'chat-a', prompt: 'ignored', params: { messages, system: 'dropped', temperature: null, stop: [] } });
    expect(endpoint.requests[0]!.body).toEqual({ model: 'chat-a', messages, temperature: null, stop: [], stream: false });
  });

  test('return null for usage and finish_reason when the endpoint leaves them out', async ({ endpoint }) => {
    endpoint.answerNext({ status: 200, body: { choices: [{ message: { role: 'assistant', content: 'ok' } }] } });
    expect(await run(configFor(endpoint), { model: 'chat-a', prompt: 'Hi' })).toEqual({ model: 'chat-a', text: 'ok', finish_reason: null, usage: null });
  });
});

describe('embedding models', () => {
  test('return one vector for a string prompt', async ({ endpoint }) => {
    const output = await run(configFor(endpoint), { model: 'embed-a', prompt: 'red fox' });
    expect(output).toEqual({ model: 'embed-a', embedding: embeddingOf('red fox'), dimensions: 3, usage: { prompt_tokens: 2, total_tokens: 2 } });
    expect(endpoint.requests[0]).toMatchObject({ path: '/v1/embeddings', body: { model: 'embed-a', input: 'red fox' } });
    expect(endpoint.requests[0]!.headers.authorization).toBe('Bearer sk-test');
  });

  test('return one vector per item of params.input, in input order', async ({ endpoint }) => {
    const output = await run(configFor(endpoint), { model: 'embed-a', params: { input: ['a', 'b c', 'd e f'], dimensions: 3, user: 'dropped' } });
    expect(output).toEqual({ model: 'embed-a', embeddings: [embeddingOf('a'), embeddingOf('b c'), embeddingOf('d e f')], dimensions: 3, usage: { prompt_tokens: 6, total_tokens: 6 } });
    expect(endpoint.requests[0]!.body).toEqual({ model: 'embed-a', input: ['a', 'b c', 'd e f'], dimensions: 3 });
  });

  test('put vectors back in input order when the endpoint lists them out of order', async ({ endpoint }) => {
    endpoint.answerNext({ status: 200, body: { data: [{ index: 1, embedding: [2] }, { index: 0, embedding: [1] }] } });
    expect(await run(configFor(endpoint), { model: 'embed-a', params: { input: ['x', 'y'] } })).toEqual({ model: 'embed-a', embeddings: [[1], [2]], dimensions: 1, usage: null });
  });

  test('refuse a bad params.input, or neither prompt nor input, as INVALID_PARAMS', async ({ endpoint }) => {
    const config = configFor(endpoint);
    const invalid: InferencePayload[] = [
      { model: 'embed-a' },
      { model: 'embed-a', prompt: '' },
      { model: 'embed-a', params: { input: [] } },
      { model: 'embed-a', params: { input: [1, 2] } },
      { model: 'embed-a', params: { input: '' } },
    ];
    for (const request of invalid) {
      expectNonRetryable(await failureOf(run(config, request)), 'INVALID_PARAMS');
    }
    expect(endpoint.requests).toEqual([]);
  });
});

describe('endpoint failures', () => {
  test.for([
    [408, 'Request timed out.'],
    [409, 'Conflict, please retry.'],
    [429, 'Rate limit reached for chat-a.'],
    [503, 'The engine is currently overloaded.'],
  ] as const)('a %i is retryable, and its error names the endpoint, the status and the endpoint message', async ([status, message], { endpoint }) => {
    endpoint.answerNext({ status, body: openAiError(message, 'server_error', null) });
    const error = await failureOf(run(configFor(endpoint), { model: 'chat-a', prompt: 'Hi' }));
    expectRetryable(error, status === 429 ? 'MODEL_RATE_LIMITED' : 'MODEL_SERVER_ERROR');
    expect(error.message).toBe(`POST ${endpoint.baseUrl}/chat/completions answered ${status}: ${message}`);
  });

  test('a 5xx from a proxy in front of the endpoint (plain text, or older vLLM {object: "error"}) is retryable with its message', async ({ endpoint }) => {
    endpoint.answerNext({ status: 502, body: 'upstream connect error' });
    endpoint.answerNext({ status: 500, body: { object: 'error', message: 'CUDA out of memory', type: 'InternalServerError', code: 500 } });
    endpoint.answerNext({ status: 504, body: '<html><body>Gateway Timeout</body></html>' });
    const config = configFor(endpoint);
    const messages = [];
    for (let i = 0; i < 3; i += 1) {
      const error = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
      expectRetryable(error, 'MODEL_SERVER_ERROR');
      messages.push(error.message.replace(`POST ${endpoint.baseUrl}/chat/completions `, ''));
    }
    expect(messages).toEqual(['answered 502: upstream connect error', 'answered 500: CUDA out of memory', 'answered 504']);
  });

  test.for([
    [400, "'max_tokens' must be a positive integer."],
    [401, 'Incorrect API key provided.'],
    [404, 'The model `chat-a` does not exist.'],
    [422, 'Unprocessable request.'],
  ] as const)('a %i is refused for good: NonRetryableError MODEL_REQUEST_REJECTED with the status and message', async ([status, message], { endpoint }) => {
    endpoint.answerNext({ status, body: openAiError(message, 'invalid_request_error', null) });
    const error = await failureOf(run(configFor(endpoint), { model: 'chat-a', prompt: 'Hi' }));
    expectNonRetryable(error, 'MODEL_REQUEST_REJECTED');
    expect(error.message).toBe(`POST ${endpoint.baseUrl}/chat/completions answered ${status}: ${message}`);
  });

  test('a model name the endpoint does not serve is refused for good', async ({ endpoint }) => {
    const error = await failureOf(run(configFor(endpoint, { OPENAI_EMBEDDING_MODELS: 'embed-missing' }), { model: 'embed-missing', prompt: 'Hi' }));
    expectNonRetryable(error, 'MODEL_REQUEST_REJECTED');
    expect(error.message).toContain('answered 404: The model `embed-missing` does not exist.');
  });

  test.for([
    ['chat-a', 'not json at all', 'is not JSON'],
    ['chat-a', { choices: [] }, 'is not a chat completion'],
    ['chat-a', { choices: [{ message: { content: 42 } }] }, 'is not a chat completion'],
    ['chat-a', { id: 'x', object: 'chat.completion' }, 'is not a chat completion'],
    ['embed-a', { data: [{ embedding: ['a'] }] }, 'is not an embedding list'],
    ['embed-a', { data: [{ embedding: [1] }, { embedding: [2] }] }, 'answered 2 embeddings for 1 inputs'],
    ['chat-a', { choices: [{ message: { content: { text: 'hi' } } }] }, 'choices.0.message.content: Invalid input: expected string, received object'],
    ['chat-a', { choices: 'hi' }, 'choices: Invalid input: expected array'],
    ['chat-a', [], '(body): Invalid input: expected object'],
    ['chat-a', null, '(body): Invalid input: expected object'],
    ['chat-a', '', 'is not JSON (text/plain, Unexpected end of JSON input): an empty body'],
    ['embed-a', { object: 'list' }, 'data: Invalid input: expected array'],
    ['embed-a', { data: [] }, 'is not an embedding list'],
    ['embed-a', { data: [{ embedding: [] }] }, 'data.0.embedding: Too small'],
    ['embed-a', { data: [{ embedding: [1, null] }] }, 'data.0.embedding.1: Invalid input: expected number'],
    ['embed-a', '{"data": [{"embedding": [0.1, NaN]}]}', 'is not JSON'],
    ['embed-a', '{"data": [{"embedding": [0.1, 1e999]}]}', 'data.0.embedding.1: Invalid input: expected number, received Infinity'],
    ['embed-a', { data: [{ embedding: [1], index: 1 }] }, 'answered an embedding for input 1 of 1 inputs'],
    ['embed-a', { data: [{ embedding: [1], index: -1 }] }, 'data.0.index: Too small'],
  ] as const)('a 200 from %s with a body like %j is MODEL_BAD_RESPONSE', async ([model, body, expected], { endpoint }) => {
    endpoint.answerNext({ status: 200, body });
    const error = await failureOf(run(configFor(endpoint), { model, prompt: 'Hi' }));
    expectNonRetryable(error, 'MODEL_BAD_RESPONSE');
    expect(error.message).toContain(expected);
  });

  test.for([
    [{ data: [{ embedding: [1, 2] }, { embedding: [3] }] }, 'answered embeddings of different lengths (2, 1)'],
    [{ data: [{ embedding: [1] }] }, 'answered 1 embeddings for 2 inputs'],
    [{ data: [{ embedding: [1] }, { embedding: [2] }, { embedding: [3] }] }, 'answered 3 embeddings for 2 inputs'],
    [{ data: [{ embedding: [1], index: 0 }, { embedding: [2], index: 0 }] }, 'answered two embeddings for input 0'],
    [{ data: [{ embedding: [1], index: 1 }, { embedding: [2] }] }, 'answered two embeddings for input 1'],
    [{ data: [{ embedding: [1], index: 0 }, { embedding: [2], index: 2 }] }, 'answered an embedding for input 2 of 2 inputs (indexes count from 0)'],
  ] as const)('a 200 for two inputs with a body like %j is MODEL_BAD_RESPONSE, and nothing is returned', async ([body, expected], { endpoint }) => {
    endpoint.answerNext({ status: 200, body });
    const error = await failureOf(run(configFor(endpoint), { model: 'embed-a', params: { input: ['a', 'b'] } }));
    expectNonRetryable(error, 'MODEL_BAD_RESPONSE');
    expect(error.message).toBe(`POST ${endpoint.baseUrl}/embeddings ${expected}`);
  });

  test('a chat completion whose content is null (a refusal, a content filter) is a result with text null, as the endpoint said', async ({ endpoint }) => {
    endpoint.answerNext({ status: 200, body: { choices: [{ message: { role: 'assistant', content: null, refusal: 'I cannot help with that.' }, finish_reason: 'content_filter' }] } });
    expect(await run(configFor(endpoint), { model: 'chat-a', prompt: 'Hi' })).toEqual({ model: 'chat-a', text: null, finish_reason: 'content_filter', usage: null });
  });

  test("a proxy's HTML page with status 200 is MODEL_BAD_RESPONSE naming its type and start, with the key redacted", async ({ endpoint }) => {
    const page = '<!DOCTYPE html>\n<html><head><title>Sign in to the gateway</title></head><body>Bearer sk-test-0123456789 was refused</body></html>';
    endpoint.answerNext({ status: 200, body: page, headers: { 'content-type': 'text/html; charset=utf-8' } });
    const error = await failureOf(run(configFor(endpoint, { OPENAI_API_KEY: 'sk-test-0123456789' }), { model: 'chat-a', prompt: 'Hi' }));
    expectNonRetryable(error, 'MODEL_BAD_RESPONSE');
    expect(error.message).toMatch(/^POST \S+ answered 200 with a body that is not JSON \(text\/html; charset=utf-8, Unexpected token '<'.*\): "<!DOCTYPE html> <html><head><title>Sign in to the gateway<\/title>/);
    expect(error.message).toContain('Bearer [redacted] was refused');
    expect(error.message).not.toContain('sk-test-0123456789');
  });

  test('a body is read in the charset its Content-Type names (UTF-8 without one); bytes that are not text in it, or a charset nobody knows, are MODEL_BAD_RESPONSE', async ({ endpoint }) => {
    const config = configFor(endpoint);
    const answer = (text: string) => JSON.stringify({ choices: [{ message: { content: text } }] });
    endpoint.answerNext({ status: 200, body: Buffer.from(answer('café'), 'latin1'), headers: { 'content-type': 'application/json; charset=ISO-8859-1' } });
    expect(await run(config, { model: 'chat-a', prompt: 'Hi' })).toMatchObject({ text: 'café' });
    endpoint.answerNext({ status: 200, body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(answer('日本'), 'utf16le')]), headers: { 'content-type': 'application/json; charset="utf-16"' } });
    expect(await run(config, { model: 'chat-a', prompt: 'Hi' })).toMatchObject({ text: '日本' });
    endpoint.answerNext({ status: 200, body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(answer('ok'))]), headers: { 'content-type': 'application/json' } });
    expect(await run(config, { model: 'chat-a', prompt: 'Hi' })).toMatchObject({ text: 'ok' });

    endpoint.answerNext({ status: 200, body: Buffer.from(answer('café'), 'latin1'), headers: { 'content-type': 'application/json' } });
    const latin1 = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
    expectNonRetryable(latin1, 'MODEL_BAD_RESPONSE');
    expect(latin1.message).toBe(`POST ${endpoint.baseUrl}/chat/completions answered 200 with a body that is not valid utf-8 (application/json)`);
    endpoint.answerNext({ status: 200, body: answer('ok'), headers: { 'content-type': 'application/json; charset=klingon' } });
    const unknown = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
    expectNonRetryable(unknown, 'MODEL_BAD_RESPONSE');
    expect(unknown.message).toContain('answered 200 in a charset the worker does not know (application/json; charset=klingon)');
  });

  test('a refused connection (nothing listening) is retryable', async ({ endpoint }) => {
    const config = configFor(endpoint);
    await endpoint.close();
    const error = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
    expectRetryable(error, 'MODEL_UNREACHABLE');
    expect(error.message).toMatch(new RegExp(`^POST ${endpoint.baseUrl}/chat/completions failed: .*ECONNREFUSED`));
  });

  test('an endpoint that stalls past OPENAI_TIMEOUT_MS fails the attempt as retryable, after about that long', async ({ endpoint }) => {
    endpoint.answerNext('stall');
    const started = performance.now();
    const error = await failureOf(run(configFor(endpoint), { model: 'chat-a', prompt: 'Hi' }));
    const elapsed = performance.now() - started;
    expectRetryable(error, 'MODEL_TIMEOUT');
    expect(error.message).toBe(`POST ${endpoint.baseUrl}/chat/completions did not answer within 200 ms`);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2_000);
    await vi.waitFor(() => expect(endpoint.abandoned).toBe(1));
  });

  test("an aborted helpers.signal aborts the request at once and rethrows the signal's reason", async ({ endpoint }) => {
    endpoint.answerNext('stall');
    const controller = new AbortController();
    const reason = new Error('job cancelled');
    const attempt = run(configFor(endpoint, { OPENAI_TIMEOUT_MS: '30s' }), { model: 'chat-a', prompt: 'Hi' }, { signal: controller.signal });
    await vi.waitFor(() => expect(endpoint.requests).toHaveLength(1));
    const aborted = performance.now();
    controller.abort(reason);
    await expect(attempt).rejects.toBe(reason);
    expect(performance.now() - aborted).toBeLessThan(500);
    await vi.waitFor(() => expect(endpoint.abandoned).toBe(1));

    // A job stopped before its request starts sends nothing.
    await expect(run(configFor(endpoint), { model: 'embed-a', prompt: 'Hi' }, { signal: controller.signal })).rejects.toBe(reason);
    expect(endpoint.requests).toHaveLength(1);
  });

  test('the API key never appears in an error message, even when the endpoint echoes it', async ({ endpoint }) => {
    const config = configFor(endpoint, { OPENAI_API_KEY: 'sk-live-0123456789' });
    const refused = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
    expectNonRetryable(refused, 'MODEL_REQUEST_REJECTED');
    expect(refused.message).toContain('answered 401: Incorrect API key provided: [redacted].');

    endpoint.answerNext({ status: 500, body: openAiError('upstream rejected Bearer sk-live-0123456789', 'server_error', null) });
    const failed = await failureOf(run(config, { model: 'embed-a', prompt: 'Hi' }));
    expectRetryable(failed);
    expect(failed.message).toContain('upstream rejected Bearer [redacted]');

    expect(`${refused.message} ${refused.stack} ${failed.message} ${failed.stack}`).not.toContain('sk-live-0123456789');
  });

  test('each request logs one debug line with the model, path, status and duration, and never the key', async ({ endpoint }) => {
    const lines: unknown[][] = [];
    const logger = { debug: (...args: unknown[]) => lines.push(args) } as unknown as Logger;
    const config = configFor(endpoint);
    await run(config, { model: 'chat-a', prompt: 'Hi' }, { logger });
    endpoint.answerNext({ status: 503, body: openAiError('busy', 'server_error', null) });
    await failureOf(run(config, { model: 'embed-a', prompt: 'Hi' }, { logger }));

    expect(lines).toEqual([
      [{ model: 'chat-a', path: '/chat/completions', status: 200, ms: expect.any(Number) }, 'model endpoint request'],
      [{ model: 'embed-a', path: '/embeddings', status: 503, ms: expect.any(Number) }, 'model endpoint request'],
    ]);
    expect(JSON.stringify(lines)).not.toContain('sk-test');
  });
});

describe('a misbehaving endpoint', () => {
  async function peakRssDuring<T>(work: Promise<T>): Promise<{ outcome: T; grewMiB: number }> {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      const outcome = await work;
      return { outcome, grewMiB: Math.round((peak - before) / 1024 / 1024) };
    } finally {
      clearInterval(sampler);
    }
  }

  test('a 200 body that never ends is read to MAX_ANSWER_BYTES only: MODEL_RESPONSE_TOO_LARGE, the connection dropped, memory bounded', async ({ endpoint }) => {
    const endless = endlessBody();
    endpoint.answerNext(endless);
    const started = performance.now();
    const { outcome: error, grewMiB } = await peakRssDuring(failureOf(run(configFor(endpoint, { OPENAI_TIMEOUT_MS: '60s' }), { model: 'chat-a', prompt: 'Hi' })));
    const elapsed = performance.now() - started;
    expectNonRetryable(error, 'MODEL_RESPONSE_TOO_LARGE');
    expect(error.message).toBe(`POST ${endpoint.baseUrl}/chat/completions answered 200 with a body over 64 MiB; the worker stopped reading it (ask for fewer inputs or tokens)`);
    await vi.waitFor(() => expect(endpoint.abandoned).toBe(1));
    const sentAtDrop = endless.sent();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(endless.sent()).toBe(sentAtDrop);
    // What the server got to write: the bound, plus what socket buffers held when the worker hung up.
    expect(sentAtDrop).toBeLessThan(MAX_ANSWER_BYTES + 32 * 1024 * 1024);
    console.log(`endless body: stopped after ${Math.round(elapsed)} ms, ${Math.round(sentAtDrop / 1024 / 1024)} MiB sent, rss grew ${grewMiB} MiB`);
    expect(grewMiB).toBeLessThan(400);
  });

  test('a Content-Length over MAX_ANSWER_BYTES is refused before its body is read', async ({ endpoint }) => {
    const endless = endlessBody({ 'content-length': String(500 * 1024 * 1024) });
    endpoint.answerNext(endless);
    const error = await failureOf(run(configFor(endpoint, { OPENAI_TIMEOUT_MS: '60s' }), { model: 'embed-a', prompt: 'Hi' }));
    expectNonRetryable(error, 'MODEL_RESPONSE_TOO_LARGE');
    await vi.waitFor(() => expect(endpoint.abandoned).toBe(1));
    expect(endless.sent()).toBeLessThan(32 * 1024 * 1024);
  });

  test('a gzip bomb is bounded by its decompressed size', async ({ endpoint }) => {
    const bomb = gzipSync(Buffer.alloc(MAX_ANSWER_BYTES + 1024 * 1024, ' '));
    endpoint.answerNext({ status: 200, body: bomb, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    const error = await failureOf(run(configFor(endpoint, { OPENAI_TIMEOUT_MS: '60s' }), { model: 'chat-a', prompt: 'Hi' }));
    expectNonRetryable(error, 'MODEL_RESPONSE_TOO_LARGE');
  });

  test('a large error body is not read past its start, and the status still decides', async ({ endpoint }) => {
    const message = 'The engine is overloaded. '.repeat(200_000);
    endpoint.answerNext({ status: 503, body: openAiError(message, 'server_error', null) });
    const error = await failureOf(run(configFor(endpoint), { model: 'chat-a', prompt: 'Hi' }));
    expectRetryable(error);
    expect(error.message.length).toBeLessThan(700);
    expect(error.message).toContain('answered 503: {"error":{"message":"The engine is overloaded.');
  });

  test('OPENAI_TIMEOUT_MS covers the body: headers at once and a byte every 100 ms fail the attempt, retryable, after about that long', async ({ endpoint }) => {
    endpoint.answerNext(tricklingBody(JSON.stringify({ choices: [{ message: { content: 'slow' } }] }), 100));
    const started = performance.now();
    const error = await failureOf(run(configFor(endpoint, { OPENAI_TIMEOUT_MS: '500ms' }), { model: 'chat-a', prompt: 'Hi' }));
    const elapsed = performance.now() - started;
    expectRetryable(error);
    expect(error.message).toBe(`POST ${endpoint.baseUrl}/chat/completions answered 200 but did not finish its body within 500 ms`);
    expect(elapsed).toBeGreaterThanOrEqual(490);
    expect(elapsed).toBeLessThan(2_000);
    await vi.waitFor(() => expect(endpoint.abandoned).toBe(1));
  });

  test.for([true, false])('a connection closed mid-body (Content-Length given: %s) fails the attempt as retryable, saying so', async (withLength, { endpoint }) => {
    endpoint.answerNext(brokenOffBody(JSON.stringify({ choices: [{ message: { content: 'x'.repeat(10_000) } }] }), withLength));
    const error = await failureOf(run(configFor(endpoint, { OPENAI_TIMEOUT_MS: '5s' }), { model: 'chat-a', prompt: 'Hi' }));
    expectRetryable(error);
    expect(error.message).toMatch(new RegExp(`^POST ${endpoint.baseUrl}/chat/completions answered 200 but its body broke off: .+`));
  });

  test.for([301, 302, 303, 307, 308])('a %i is not followed, to another origin or the same one: MODEL_REQUEST_REJECTED naming the Location, and nothing reaches it', async (status, { endpoint }) => {
    const elsewhere = await FakeOpenAiServer.start({ models: ['chat-a'] });
    try {
      const config = configFor(endpoint);
      endpoint.answerNext({ status, body: '', headers: { location: `${elsewhere.baseUrl}/chat/completions` } });
      const away = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
      expectNonRetryable(away, 'MODEL_REQUEST_REJECTED');
      expect(away.message).toBe(
        `POST ${endpoint.baseUrl}/chat/completions answered ${status}, a redirect to ${elsewhere.baseUrl}/chat/completions; redirects are not followed (the key and the prompt stay with OPENAI_BASE_URL): set OPENAI_BASE_URL to where the endpoint is`,
      );
      endpoint.answerNext({ status, body: '', headers: { location: '/v2/chat/completions' } });
      const near = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
      expectNonRetryable(near, 'MODEL_REQUEST_REJECTED');
      expect(near.message).toContain(`a redirect to ${new URL(endpoint.baseUrl).origin}/v2/chat/completions;`);
      expect(endpoint.requests).toHaveLength(2);
      expect(elsewhere.requests).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  });

  test('Retry-After on a 429 or 503 rides on the retryable error as retryAfterMs (seconds or an HTTP date, at most a day); nonsense is ignored', async ({ endpoint }) => {
    const config = configFor(endpoint);
    const busy = async (status: number, retryAfter: string) => {
      endpoint.answerNext({ status, body: openAiError('slow down', 'rate_limit_error', null), headers: { 'retry-after': retryAfter } });
      const error = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
      expectRetryable(error);
      return error as Error & { retryAfterMs?: number };
    };
    const seconds = await busy(429, '7');
    expect(seconds.retryAfterMs).toBe(7_000);
    expect(seconds.message).toBe(`POST ${endpoint.baseUrl}/chat/completions answered 429: slow down (Retry-After: 7 s)`);
    const dated = await busy(503, new Date(Date.now() + 30_000).toUTCString());
    expect(dated.retryAfterMs).toBeGreaterThan(28_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(30_000);
    expect((await busy(503, '99999999999')).retryAfterMs).toBe(86_400_000);
    for (const nonsense of ['1e9', '-5', '3.5', 'soon', 'Thu, 01 Jan 1970 00:00:00 UTC']) {
      const error = await busy(429, nonsense);
      expect(error.retryAfterMs).toBeUndefined();
      expect(error.message).toBe(`POST ${endpoint.baseUrl}/chat/completions answered 429: slow down`);
    }
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT')).toBe(0);
    expect(parseRetryAfter(' 0 ')).toBe(0);
  });

  test('a base URL with a deeper path and a query keeps both: the path is appended to the path, the query kept', async ({ endpoint }) => {
    const origin = new URL(endpoint.baseUrl).origin;
    const config = configFor(endpoint, { OPENAI_BASE_URL: `${origin}/v1/?api-version=2024-06-01&deployment=a/b` });
    await run(config, { model: 'chat-a', prompt: 'Hi' });
    expect(endpoint.requests[0]!.path).toBe('/v1/chat/completions?api-version=2024-06-01&deployment=a/b');
    endpoint.answerNext({ status: 500, body: 'boom' });
    const error = await failureOf(run(configFor(endpoint, { OPENAI_BASE_URL: `${origin}/openai/deployments/emb?api-version=1#frag` }), { model: 'embed-a', prompt: 'Hi' }));
    expect(endpoint.requests[1]!.path).toBe('/openai/deployments/emb/embeddings?api-version=1');
    expect(error.message).toBe(`POST ${origin}/openai/deployments/emb/embeddings?api-version=1 answered 500: boom`);
  });

  test('a credential in the base URL query (?key=, ?access_token=) is redacted from errors like the API key; settings such as api-version are shown', async ({ endpoint }) => {
    const origin = new URL(endpoint.baseUrl).origin;
    const config = configFor(endpoint, { OPENAI_BASE_URL: `${origin}/v1?api-version=2024-06-01&key=AIza%2Fsecret+1&access_token=tok-90123456` });
    endpoint.answerNext({ status: 400, body: { error: { message: 'bad key AIza/secret 1 or tok-90123456' } } });
    const error = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
    expectNonRetryable(error, 'MODEL_REQUEST_REJECTED');
    expect(endpoint.requests[0]!.path).toBe('/v1/chat/completions?api-version=2024-06-01&key=AIza%2Fsecret+1&access_token=tok-90123456');
    expect(error.message).toContain('?api-version=2024-06-01&key=[redacted]&access_token=[redacted]');
    expect(error.message).not.toMatch(/AIza|secret|tok-9/);
  });

  test('a credential in the base URL query is redacted from every error, a malformed answer, an unreadable body or one too large too', async ({ endpoint }) => {
    const origin = new URL(endpoint.baseUrl).origin;
    const config = configFor(endpoint, { OPENAI_BASE_URL: `${origin}/v1?api-version=2024-02-01&api_key=Q%2BSECRET%2FQ&x=1` });
    const answers = [
      { status: 200, body: { result: 'hello' } },
      { status: 200, body: Buffer.from([0x7b, 0xff, 0x7d]), headers: { 'content-type': 'application/json' } },
      endlessBody({ 'content-length': String(MAX_ANSWER_BYTES + 1) }),
    ];
    const messages: string[] = [];
    for (const answer of answers) {
      endpoint.answerNext(answer);
      messages.push((await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }))).message);
    }
    endpoint.answerNext({ status: 200, body: { data: [{ embedding: [1, 2] }, { embedding: [3] }] } });
    messages.push((await failureOf(run(config, { model: 'embed-a', params: { input: ['a', 'b'] } }))).message);
    expect(messages.map((message) => message.split(' answered ')[1]!.split(' (')[0])).toEqual([
      '200 with a body that is not a chat completion',
      '200 with a body that is not valid utf-8',
      '200 with a body over 64 MiB; the worker stopped reading it',
      'embeddings of different lengths',
    ]);
    for (const message of messages) {
      expect(message).toContain(`${origin}/v1/`);
      expect(message).toContain('?api-version=2024-02-01&api_key=[redacted]&x=1');
      expect(message).not.toMatch(/SECRET/);
    }
  });

  test('a key the endpoint echoes is redacted before its text is cut to length, so no part of it is left at the cut; one holding a quote or a backslash too', async ({ endpoint }) => {
    const key = 'sk-SECRETKEY-0123456789';
    const config = configFor(endpoint, { OPENAI_API_KEY: key });
    const cases = [
      // Not JSON: JSON.parse's error quotes the first characters.
      { status: 200, body: `${key} is not allowed here`, headers: { 'content-type': 'text/plain' } },
      // The body's start is cut at 120 characters.
      { status: 200, body: `${'x'.repeat(106)} ${key}`, headers: { 'content-type': 'text/plain' } },
      // A refusal's message is cut at 500.
      { status: 401, body: openAiError(`${'y'.repeat(480)} bad key ${key}`, 'invalid_request_error', 'invalid_api_key') },
    ];
    for (const answer of cases) {
      endpoint.answerNext(answer);
      const error = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
      expect(error.message).toContain('[redacted]');
      expect(error.message).not.toMatch(/SECRET|sk-S/);
    }

    const quoted = 'sk-ab"cd\\ef-SECRETQUOTE-0123';
    const withQuote = configFor(endpoint, { OPENAI_API_KEY: quoted });
    for (const body of [`${quoted} is not allowed here`, JSON.stringify({ message: `${quoted} is not allowed here` }).slice(0, -1)]) {
      endpoint.answerNext({ status: 200, body, headers: { 'content-type': 'application/json' } });
      const error = await failureOf(run(withQuote, { model: 'chat-a', prompt: 'Hi' }));
      expect(error.message).toContain('[redacted] is not allowed here');
      expect(error.message).not.toMatch(/SECRET|ab\\?"cd/);
    }
  });

  test("a placeholder key shorter than 8 characters (Ollama's `ollama`, `x`) is not looked for: the URL and the endpoint's words stay whole; a key that is also a word of the base URL never blanks it", async ({ endpoint }) => {
    const origin = new URL(endpoint.baseUrl).origin;
    const config = configFor(endpoint, { OPENAI_BASE_URL: `${origin}/ollama/v1`, OPENAI_API_KEY: 'ollama' });
    endpoint.answerNext({ status: 404, body: openAiError('model "chat-a" not found, try pulling it first', 'not_found_error', null) });
    const error = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
    expect(error.message).toBe(`POST ${origin}/ollama/v1/chat/completions answered 404: model "chat-a" not found, try pulling it first`);
    endpoint.answerNext({ status: 404, body: openAiError('The model `gpt-5` does not exist', 'invalid_request_error', 'model_not_found') });
    expect((await failureOf(run(configFor(endpoint, { OPENAI_API_KEY: 'x' }), { model: 'chat-a', prompt: 'Hi' }))).message).toMatch(/answered 404: The model `gpt-5` does not exist$/);
    // A real key that is a path segment too (an odd deployment) is still shown in the URL, built without redaction, and redacted in the endpoint's words.
    const long = configFor(endpoint, { OPENAI_BASE_URL: `${origin}/deploy-0123456789/v1`, OPENAI_API_KEY: 'deploy-0123456789' });
    endpoint.answerNext({ status: 401, body: openAiError('bad key deploy-0123456789', 'invalid_request_error', null) });
    expect((await failureOf(run(long, { model: 'chat-a', prompt: 'Hi' }))).message).toBe(`POST ${origin}/deploy-0123456789/v1/chat/completions answered 401: bad key [redacted]`);
  });

  test('the JSON of a refusal is read before the key is looked for in its message (a key of digits, redacted first, broke the JSON), and the end of a refusal cut short is redacted when it starts a key', async ({ endpoint }) => {
    const config = configFor(endpoint, { OPENAI_API_KEY: '40960000' });
    endpoint.answerNext({ status: 400, body: { object: 'error', message: "This model's maximum context length is 4096 tokens", code: 40960000 } });
    expect((await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }))).message).toMatch(/answered 400: This model's maximum context length is 4096 tokens$/);
    const key = 'sk-ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    endpoint.answerNext({ status: 400, body: `${' '.repeat(64 * 1024 - 8)}${key}`, headers: { 'content-type': 'text/plain' } });
    const cut = await failureOf(run(configFor(endpoint, { OPENAI_API_KEY: key }), { model: 'chat-a', prompt: 'Hi' }));
    expect(cut.message).toMatch(/answered 400: \[redacted\]$/);
    endpoint.answerNext({ status: 307, body: '', headers: { location: `http://[::1${'y'.repeat(150)}${key}` } });
    expect((await failureOf(run(configFor(endpoint, { OPENAI_API_KEY: key }), { model: 'chat-a', prompt: 'Hi' }))).message).not.toMatch(/sk-A/);
  });

  test('a credential parameter named code, pwd or jwt (an Azure Functions key) is redacted too, and one whose value holds "=" whole', async ({ endpoint }) => {
    const origin = new URL(endpoint.baseUrl).origin;
    const config = configFor(endpoint, { OPENAI_BASE_URL: `${origin}/v1?code=AZFUNCSECRET123&pwd=pw-0123456789&x=1&key=a=bcdefghij` });
    endpoint.answerNext({ status: 404, body: openAiError('You sent /v1/chat/completions?code=AZFUNCSECRET123&pwd=pw-0123456789&key=a=bcdefghij', 'invalid_request_error', null) });
    const error = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
    expect(error.message).toBe(`POST ${origin}/v1/chat/completions?code=[redacted]&pwd=[redacted]&x=1&key=[redacted] answered 404: You sent /v1/chat/completions?code=[redacted]&pwd=[redacted]&key=[redacted]`);
  });

  test("a FastAPI server's validation refusal (detail: [{loc, msg}]) is quoted field by field", async ({ endpoint }) => {
    endpoint.answerNext({
      status: 422,
      body: { detail: [{ loc: ['body', 'messages'], msg: 'field required', type: 'missing' }, { loc: ['body', 'temperature'], msg: 'Input should be a valid number', type: 'float_parsing' }] },
    });
    const error = await failureOf(run(configFor(endpoint), { model: 'chat-a', prompt: 'Hi' }));
    expectNonRetryable(error, 'MODEL_REQUEST_REJECTED');
    expect(error.message).toBe(`POST ${endpoint.baseUrl}/chat/completions answered 422: body.messages: field required; body.temperature: Input should be a valid number`);
  });

  test('an IPv6 literal base URL works', async () => {
    const endpoint = await FakeOpenAiServer.start({ models: ['chat-a'], host: '::1' });
    try {
      expect(endpoint.baseUrl).toMatch(/^http:\/\/\[::1\]:\d+\/v1$/);
      expect(await run(configFor(endpoint, { OPENAI_API_KEY: '' }), { model: 'chat-a', prompt: 'Hi' })).toMatchObject({ text: 'You said: Hi' });
    } finally {
      await endpoint.close();
    }
  });

  test('a TLS endpoint: one whose CA is trusted (NODE_EXTRA_CA_CERTS) answers; an untrusted certificate fails the attempt as retryable, saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-openai-tls-'));
    const endpoint = await FakeOpenAiServer.start({ models: ['chat-a'], apiKey: 'sk-test', tls: makeTlsCertificates(dir, 'DNS:localhost,IP:127.0.0.1') });
    try {
      expect(endpoint.baseUrl).toMatch(/^https:/);
      const untrusted = await failureOf(run(configFor(endpoint), { model: 'chat-a', prompt: 'Hi' }));
      expectRetryable(untrusted);
      expect(untrusted.message).toMatch(new RegExp(`^POST ${endpoint.baseUrl}/chat/completions failed: .*(certificate|issuer)`));
      expect(endpoint.requests).toEqual([]);

      // This process cannot trust a CA after it started; a worker trusts one as the README says.
      const adapter = new URL('../../dist/processors/models/openai-compatible.js', import.meta.url).href;
      const script = `
        const { openAiCompatibleModels } = await import(${JSON.stringify(adapter)});
        const config = { OPENAI_BASE_URL: ${JSON.stringify(endpoint.baseUrl)}, OPENAI_API_KEY: 'sk-test', OPENAI_TIMEOUT_MS: 5000, OPENAI_CHAT_MODELS: ['chat-a'], OPENAI_EMBEDDING_MODELS: [] };
        const model = openAiCompatibleModels(config).get('chat-a');
        const logger = { debug() {} };
        console.log(JSON.stringify(await model({ model: 'chat-a', prompt: 'over TLS' }, { signal: new AbortController().signal, logger })));`;
      // Not spawnSync: the endpoint answers from this process's event loop.
      const child = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') }, encoding: 'utf8', timeout: 20_000 }, (_error, stdout, stderr) =>
          resolve({ stdout, stderr }),
        );
      });
      expect(child.stderr).toBe('');
      expect(JSON.parse(child.stdout)).toMatchObject({ model: 'chat-a', text: 'You said: over TLS' });
    } finally {
      await endpoint.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('openAiCompatibleModels', () => {
  test('offers exactly the configured chat and embedding model names, and none without configuration', () => {
    const config = loadConfig(workerEnvSchema, {
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      OPENAI_CHAT_MODELS: 'chat-a, chat-b',
      OPENAI_EMBEDDING_MODELS: 'embed-a',
    });
    expect([...openAiCompatibleModels(config).keys()]).toEqual(['chat-a', 'chat-b', 'embed-a']);
    expect(openAiCompatibleModels(loadConfig(workerEnvSchema, {})).size).toBe(0);
    expect(openAiCompatibleModels(loadConfig(workerEnvSchema, { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' })).size).toBe(0);
  });

  test('model names as Ollama and vLLM spell them reach the endpoint unchanged, a trailing slash on the base URL is ignored, and no key sends no Authorization', async () => {
    const endpoint = await FakeOpenAiServer.start({ models: ['qwen2.5:7b', 'Qwen/Qwen2.5-7B-Instruct', 'nomic-embed-text'] });
    try {
      const config = loadConfig(workerEnvSchema, {
        OPENAI_BASE_URL: `${endpoint.baseUrl}/`,
        OPENAI_CHAT_MODELS: 'qwen2.5:7b,Qwen/Qwen2.5-7B-Instruct',
        OPENAI_EMBEDDING_MODELS: 'nomic-embed-text',
      });
      await run(config, { model: 'qwen2.5:7b', prompt: 'Hi' });
      await run(config, { model: 'Qwen/Qwen2.5-7B-Instruct', prompt: 'Hi' });
      await run(config, { model: 'nomic-embed-text', prompt: 'Hi' });
      expect(endpoint.requests.map((request) => [request.path, (request.body as { model: string }).model])).toEqual([
        ['/v1/chat/completions', 'qwen2.5:7b'],
        ['/v1/chat/completions', 'Qwen/Qwen2.5-7B-Instruct'],
        ['/v1/embeddings', 'nomic-embed-text'],
      ]);
      expect(endpoint.requests.every((request) => request.headers.authorization === undefined)).toBe(true);
    } finally {
      await endpoint.close();
    }
  });

  test("the worker's infer stage runs a configured chat model through the registry", async ({ endpoint }) => {
    const infer = createInfer(createModels(configFor(endpoint)));
    // As another producer would XADD it: params as a JSON string.
    const output = await infer({ model: 'chat-a', prompt: 'Ship it', params: '{"temperature":0}' }, helpers());
    expect(output).toEqual({ model: 'chat-a', text: 'You said: Ship it', finish_reason: 'stop', usage: { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 } });
    expect(endpoint.requests[0]!.body).toMatchObject({ model: 'chat-a', temperature: 0 });
  });
});
