import { createLogger, loadConfig, workerEnvSchema, type InferencePayload, type Logger, type WorkerConfig } from '@conveyor/shared';
import { describe, expect, test as base, vi } from 'vitest';
import { createInfer } from '../../src/processors/infer.js';
import { createModels } from '../../src/processors/models/registry.js';
import { openAiCompatibleModels } from '../../src/processors/models/openai-compatible.js';
import { NonRetryableError } from '../../src/processors/non-retryable-error.js';
import type { ProcessorHelpers } from '../../src/processors/processor.js';
import { embeddingOf, FakeOpenAiServer, openAiError } from './fake-openai-server.js';

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

function expectRetryable(error: Error): void {
  expect(error).not.toBeInstanceOf(NonRetryableError);
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
    const output = await run(configFor(endpoint), { model: 'embed-a', prompt: 'ignored', params: { input: ['a', 'b c', 'd e f'], dimensions: 3, user: 'dropped' } });
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
    expectRetryable(error);
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
      expectRetryable(error);
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
  ] as const)('a 200 from %s with a body like %j is MODEL_BAD_RESPONSE', async ([model, body, expected], { endpoint }) => {
    endpoint.answerNext({ status: 200, body });
    const error = await failureOf(run(configFor(endpoint), { model, prompt: 'Hi' }));
    expectNonRetryable(error, 'MODEL_BAD_RESPONSE');
    expect(error.message).toContain(expected);
  });

  test('a refused connection (nothing listening) is retryable', async ({ endpoint }) => {
    const config = configFor(endpoint);
    await endpoint.close();
    const error = await failureOf(run(config, { model: 'chat-a', prompt: 'Hi' }));
    expectRetryable(error);
    expect(error.message).toMatch(new RegExp(`^POST ${endpoint.baseUrl}/chat/completions failed: .*ECONNREFUSED`));
  });

  test('an endpoint that stalls past OPENAI_TIMEOUT_MS fails the attempt as retryable, after about that long', async ({ endpoint }) => {
    endpoint.answerNext('stall');
    const started = performance.now();
    const error = await failureOf(run(configFor(endpoint), { model: 'chat-a', prompt: 'Hi' }));
    const elapsed = performance.now() - started;
    expectRetryable(error);
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
