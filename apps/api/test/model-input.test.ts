import { LANES, QueueKeys } from '@conveyor/shared';
import { keysUnder } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { testWithApp } from './test-app.js';

/** Chat and embedding models served by an endpoint: named only, as nothing is sent to it here. */
const ENDPOINT_MODELS = { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', OPENAI_CHAT_MODELS: 'chat-a', OPENAI_EMBEDDING_MODELS: 'embed-a' };

const test = testWithApp(ENDPOINT_MODELS);

/** Every key under the prefix, and every entry of the inference queue's lanes. */
async function written(redis: Redis, prefix: string): Promise<unknown> {
  const keys = new QueueKeys(prefix, 'inference');
  return { keys: await keysUnder(redis, prefix), entries: await Promise.all(LANES.map((lane) => redis.xlen(keys.stream('infer', lane)))) };
}

describe('a request its model cannot run is a 400 naming the field, and writes nothing', () => {
  const refused: [string, Record<string, unknown>, string, RegExp][] = [
    ['echo with a sleep_ms that is no number', { model: 'echo', params: { sleep_ms: 'soon' } }, 'body.params.sleep_ms', /^must be a number of milliseconds from 0 to 3600000, got "soon"$/],
    ['echo with a progress that is no boolean', { model: 'echo', params: { progress: 'yes' } }, 'body.params.progress', /^must be true or false/],
    ['echo with fail neither "always" nor a count', { model: 'echo', params: { fail: -1 } }, 'body.params.fail', /^must be "always" or a number of attempts, got -1$/],
    ['echo with a fail_until that is no time', { model: 'echo', params: { fail_until: 'later' } }, 'body.params.fail_until', /^must be a time/],
    ['sentiment without a prompt', { model: 'sentiment' }, 'body.prompt', /^must be a non-empty text: model "sentiment" works on it$/],
    ['language with a blank prompt', { model: 'language', prompt: ' \n ' }, 'body.prompt', /model "language"/],
    ['embed with a prompt of invisible characters only', { model: 'embed', prompt: '\u200b\u0000\ufeff' }, 'body.prompt', /^must be a non-empty text: model "embed" works on it$/],
    ['summarize with 21 sentences', { model: 'summarize', prompt: 'A text.', params: { sentences: 21 } }, 'body.params.sentences', /^must be a whole number from 1 to 20, got 21$/],
    ['a chat model with neither prompt nor messages', { model: 'chat-a' }, 'body.prompt', /unless params\.messages is given/],
    ['a chat model with messages lacking a role', { model: 'chat-a', params: { messages: [{ content: 'hi' }] } }, 'body.params.messages', /^must be a non-empty array of \{role, content\}/],
    ['a chat model with a system that is no string', { model: 'chat-a', prompt: 'Hi', params: { system: 42 } }, 'body.params.system', /^must be a string/],
    ['an embedding model with an empty input', { model: 'embed-a', params: { input: [] } }, 'body.params.input', /^must be a non-empty string or a non-empty array of them/],
    ['a chat model with a blank prompt', { model: 'chat-a', prompt: '   ' }, 'body.prompt', /^must be a non-empty text: model "chat-a" works on it$/],
    ['a chat model with a prompt of invisible characters only', { model: 'chat-a', prompt: '\u200b' }, 'body.prompt', /^must be a non-empty text/],
    ['an embedding model with a blank prompt', { model: 'embed-a', prompt: '  ' }, 'body.prompt', /^must be a non-empty text: model "embed-a" works on it$/],
    ['an embedding model with a blank text among its inputs', { model: 'embed-a', params: { input: ['  ', 'ok'] } }, 'body.params.input', /holds nothing that shows/],
    ['a chat model with both a prompt and messages', { model: 'chat-a', prompt: 'ignored?', params: { messages: [{ role: 'user', content: 'm' }] } }, 'body.prompt', /^cannot be given with params\.messages/],
    ['a chat model with both a system text and messages', { model: 'chat-a', params: { system: 'Be brief.', messages: [{ role: 'user', content: 'm' }] } }, 'body.params.system', /first in params\.messages as a \{"role": "system"\} message$/],
    ['an embedding model with both a prompt and an input', { model: 'embed-a', prompt: 'PROMPT', params: { input: 'INPUT' } }, 'body.prompt', /^cannot be given with params\.input/],
    ['a chat model with a temperature that is no number', { model: 'chat-a', prompt: 'Hi', params: { temperature: 'hot' } }, 'body.params.temperature', /^must be a number, 0 or more/],
    ['a chat model with a top_p past 1', { model: 'chat-a', prompt: 'Hi', params: { top_p: 1.5 } }, 'body.params.top_p', /^must be a number from 0 to 1/],
    ['a chat model with max_tokens of 0', { model: 'chat-a', prompt: 'Hi', params: { max_tokens: 0 } }, 'body.params.max_tokens', /^must be a whole number, 1 or more/],
    ['a chat model with a response_format without its type', { model: 'chat-a', prompt: 'Hi', params: { response_format: 'json' } }, 'body.params.response_format', /^must be an object with a "type"/],
    ['an embedding model with negative dimensions', { model: 'embed-a', prompt: 'Hi', params: { dimensions: -5 } }, 'body.params.dimensions', /^must be a whole number, 1 or more/],
    ['an embedding model with dimensions that are no number', { model: 'embed-a', prompt: 'Hi', params: { dimensions: 'abc' } }, 'body.params.dimensions', /^must be a whole number, 1 or more/],
    ['summarize with a misspelt param', { model: 'summarize', prompt: 'A text.', params: { sentence: 2 } }, 'body.params.sentence', /^is not a param of model "summarize", which takes "sentences"$/],
    ['sentiment with any param', { model: 'sentiment', prompt: 'Good.', params: { language: 'en' } }, 'body.params.language', /^is not a param of model "sentiment", which takes no params$/],
    ['echo with a param it does not read', { model: 'echo', params: { sleep: 5 } }, 'body.params.sleep', /^is not a param of model "echo", which takes "sleep_ms", "progress", "fail", "fail_until"$/],
    ['a chat model with a param it does not pass on', { model: 'chat-a', prompt: 'Hi', params: { temprature: 0.2 } }, 'body.params.temprature', /^is not a param of model "chat-a", which takes "messages", "system", "temperature", /],
    ['an embedding model with a param it does not pass on', { model: 'embed-a', prompt: 'Hi', params: { user: 'u1' } }, 'body.params.user', /^is not a param of model "embed-a", which takes "input", "dimensions"$/],
  ];

  test.for(refused)('%s', async ([, job, path, message], { app, redis, prefix }) => {
    const before = await written(redis, prefix);
    const response = await app.inject({ method: 'POST', url: '/jobs', payload: job });
    expect(response.statusCode).toBe(400);
    const problem = response.json();
    expect(problem).toMatchObject({ type: '/problems/invalid-request', status: 400, errors: [{ path, message: expect.stringMatching(message) }] });
    expect(problem.detail).toBe(`${path}: ${problem.errors[0].message}`);
    expect(await written(redis, prefix)).toEqual(before);
  });

  test('in a batch, the job is named by its place, and none of the batch is written', async ({ app, redis, prefix }) => {
    const before = await written(redis, prefix);
    const jobs = [{ model: 'echo', prompt: 'fine' }, { model: 'summarize', prompt: 'A text.', params: { sentences: 0 } }];
    const response = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs } });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ path: 'body.jobs.1.params.sentences', message: 'must be a whole number from 1 to 20, got 0' }]);
    expect(await written(redis, prefix)).toEqual(before);
  });

  test('in a batch, every job its model cannot run is listed, each by its place', async ({ app, redis, prefix }) => {
    const before = await written(redis, prefix);
    const jobs = [{ model: 'chat-a' }, { model: 'echo', prompt: 'fine' }, { model: 'chat-a', prompt: 'Hi', params: { temperature: 'hot' } }, { model: 'embed-a' }];
    const response = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs } });
    expect(response.statusCode).toBe(400);
    const problem = response.json();
    expect(problem.errors.map((error: { path: string }) => error.path)).toEqual(['body.jobs.0.prompt', 'body.jobs.2.params.temperature', 'body.jobs.3.prompt']);
    expect(problem.detail).toBe(problem.errors.map((error: { path: string; message: string }) => `${error.path}: ${error.message}`).join('; '));
    expect(await written(redis, prefix)).toEqual(before);

    const many = Array.from({ length: 30 }, () => ({ model: 'chat-a', prompt: ' ' }));
    const manyRefused = (await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: many } })).json();
    expect(manyRefused.errors).toHaveLength(20);
    expect(manyRefused.detail).toMatch(/; and 10 more \(fix these and send it again\)$/);
  });

  test("in a batch, a job naming an unknown model hides no other job's fault", async ({ app, redis, prefix }) => {
    const before = await written(redis, prefix);
    const jobs = [{ model: 'echo', prompt: 'fine' }, { model: 'gpt-9', prompt: 'Hi' }, { model: 'chat-a' }, { model: 'gpt-10', prompt: 'Hi' }];
    const response = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs } });
    expect(response.statusCode).toBe(400);
    const problem = response.json();
    expect(problem).toMatchObject({ type: '/problems/unknown-model', known_models: expect.arrayContaining(['echo', 'chat-a']) });
    expect(problem.errors).toEqual([
      { path: 'body.jobs.1.model', message: 'names model "gpt-9", which is not known' },
      { path: 'body.jobs.2.prompt', message: expect.stringMatching(/unless params\.messages is given/) },
      { path: 'body.jobs.3.model', message: 'names model "gpt-10", which is not known' },
    ]);
    expect(problem.detail).toMatch(/^Model "gpt-9" \(body\.jobs\.1, counted from 0\) is not known\. Known models: .+\. In all, 2 jobs name a model that is not known; 1 other fault of this batch too: errors lists them\. Nothing was written; fix them all and send the batch again\.$/);
    expect(await written(redis, prefix)).toEqual(before);

    // One unknown model and nothing else wrong: the one job's refusal, as before.
    const single = (await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: [{ model: 'echo', prompt: 'fine' }, { model: 'gpt-9', prompt: 'Hi' }] } })).json();
    expect(single.detail).toMatch(/^Model "gpt-9" \(body\.jobs\.1, counted from 0\) is not known\. Known models: [^.]+\.$/);
    expect(await written(redis, prefix)).toEqual(before);
  });

  test('what a worker reads as valid is accepted: digits for sentences, a number or an ISO time for fail_until, messages instead of a prompt', async ({ app }) => {
    const accepted = [
      { model: 'summarize', prompt: 'A text.', params: { sentences: '2' } },
      { model: 'echo', params: { fail: 'always', fail_until: '2030-01-01T00:00:00Z', sleep_ms: 5, progress: true } },
      { model: 'echo', params: { fail: 2, fail_until: 1_900_000_000_000 } },
      { model: 'chat-a', params: { messages: [{ role: 'user', content: 'Hi' }], temperature: 0, top_p: 1, max_tokens: 5, stop: ['\n'], seed: 1, presence_penalty: 0, frequency_penalty: 0, response_format: { type: 'text' } } },
      // Unset as OpenAI's client types write it (null), and vLLM's default stop ([]).
      { model: 'chat-a', prompt: 'Hi', params: { temperature: null, top_p: null, max_tokens: null, stop: [], seed: null, presence_penalty: null, frequency_penalty: null, response_format: null } },
      { model: 'embed-a', prompt: 'x', params: { dimensions: null } },
      { model: 'embed-a', prompt: 'x', params: { dimensions: 3 } },
      { model: 'sentiment', prompt: 'Fine.', params: {} },
      { model: 'embed-a', params: { input: ['a', 'b'] } },
      { model: 'embed', prompt: 'words to embed' },
    ];
    for (const job of accepted) {
      const response = await app.inject({ method: 'POST', url: '/jobs', payload: job });
      expect(response.statusCode, JSON.stringify(job)).toBe(202);
    }
  });
});

test('GET /models lists each model with the params it reads, the ones POST /jobs takes', async ({ app }) => {
  const response = await app.inject({ method: 'GET', url: '/models' });
  expect(response.statusCode).toBe(200);
  const params = Object.fromEntries(response.json().models.map((model: { name: string; params: string[] }) => [model.name, model.params]));
  expect(params).toEqual({
    echo: ['sleep_ms', 'progress', 'fail', 'fail_until'],
    sentiment: [],
    summarize: ['sentences'],
    embed: [],
    language: [],
    'chat-a': ['messages', 'system', 'temperature', 'top_p', 'max_tokens', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'response_format'],
    'embed-a': ['input', 'dimensions'],
  });
});
