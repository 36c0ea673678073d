import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text if it was not JSON. */
  body: unknown;
}

/** A canned answer: a JSON body, or a string sent as it is. */
export interface CannedAnswer {
  status: number;
  body: unknown;
}

export interface FakeOpenAiOptions {
  /** Models it serves; others are answered 404 model_not_found, as OpenAI does. */
  models: string[];
  /** The key it expects as `Authorization: Bearer <key>`; a wrong one is answered 401. */
  apiKey?: string;
}

/**
 * A local stand-in for an OpenAI-compatible endpoint (the protocol vLLM, Ollama and OpenAI
 * speak under /v1): /chat/completions answers "You said: <last message>", /embeddings answers
 * `[characters, words, 1]` per input. It records every request, and can be told to answer the
 * next requests with given statuses and bodies, or to never answer.
 */
export class FakeOpenAiServer {
  readonly requests: RecordedRequest[] = [];
  /** Requests whose client hung up before they were answered. */
  abandoned = 0;
  readonly #queued: (CannedAnswer | 'stall')[] = [];
  #closed = false;

  private constructor(
    private readonly server: Server,
    private readonly options: FakeOpenAiOptions,
    /** e.g. http://127.0.0.1:41234/v1, what OPENAI_BASE_URL would hold; kept after close. */
    readonly baseUrl: string,
  ) {}

  static async start(options: FakeOpenAiOptions): Promise<FakeOpenAiServer> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const fake = new FakeOpenAiServer(server, options, `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`);
    // A client that hangs up mid-body leaves nothing to answer.
    server.on('request', (req, res) => fake.#answer(req, res).catch(() => res.destroy()));
    return fake;
  }

  /** The next request gets this answer (or none at all: 'stall') instead of the protocol's. */
  answerNext(answer: CannedAnswer | 'stall'): void {
    this.#queued.push(answer);
  }

  /** Stops listening and drops open connections, stalled ones included; calling it twice is fine. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = parseJson(text);
    const path = req.url ?? '';
    this.requests.push({ method: req.method ?? '', path, headers: req.headers, body });
    res.on('close', () => {
      if (!res.writableFinished) this.abandoned += 1;
    });

    const canned = this.#queued.shift();
    if (canned === 'stall') return;
    if (canned) return send(res, canned.status, canned.body);
    send(res, ...this.#protocolAnswer(req, path, body));
  }

  #protocolAnswer(req: IncomingMessage, path: string, body: unknown): [number, unknown] {
    const given = req.headers.authorization?.replace(/^Bearer /, '');
    if (this.options.apiKey !== undefined && given !== this.options.apiKey) {
      return [401, openAiError(`Incorrect API key provided: ${given ?? '(none)'}.`, 'invalid_request_error', 'invalid_api_key')];
    }
    if (req.method !== 'POST' || (path !== '/v1/chat/completions' && path !== '/v1/embeddings')) {
      return [404, openAiError(`Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error', 'unknown_url')];
    }
    if (!isRecord(body) || typeof body['model'] !== 'string') return [400, openAiError('The body must be a JSON object with a model.', 'invalid_request_error', null)];
    const model = body['model'];
    if (!this.options.models.includes(model)) {
      return [404, openAiError(`The model \`${model}\` does not exist.`, 'invalid_request_error', 'model_not_found')];
    }
    return path === '/v1/chat/completions' ? chatCompletion(model, body) : embeddingList(model, body);
  }
}

function chatCompletion(model: string, body: Record<string, unknown>): [number, unknown] {
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0 || !messages.every((m) => isRecord(m) && typeof m['role'] === 'string')) {
    return [400, openAiError("'messages' must be a non-empty array of messages.", 'invalid_request_error', null)];
  }
  const last = String((messages.at(-1) as Record<string, unknown>)['content']);
  const content = `You said: ${last}`;
  const promptTokens = messages.reduce((sum: number, m: Record<string, unknown>) => sum + wordCount(String(m['content'])), 0);
  const completionTokens = wordCount(content);
  return [
    200,
    {
      id: 'chatcmpl-fake',
      object: 'chat.completion',
      created: 1_700_000_000,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    },
  ];
}

function embeddingList(model: string, body: Record<string, unknown>): [number, unknown] {
  const input = body['input'];
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((text) => typeof text === 'string')) {
    return [400, openAiError("'input' must be a string or an array of strings.", 'invalid_request_error', null)];
  }
  const tokens = texts.reduce((sum, text) => sum + wordCount(text), 0);
  return [
    200,
    {
      object: 'list',
      model,
      data: texts.map((text, index) => ({ object: 'embedding', index, embedding: embeddingOf(text) })),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    },
  ];
}

/** The fake's embedding of `text`: [characters, words, 1]. */
export function embeddingOf(text: string): number[] {
  return [text.length, wordCount(text), 1];
}

export function openAiError(message: string, type: string, code: string | null): unknown {
  return { error: { message, type, param: null, code } };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
  res.end(text);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
