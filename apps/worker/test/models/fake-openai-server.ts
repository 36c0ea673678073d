import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text if it was not JSON. */
  body: unknown;
}

/** A canned answer: a JSON body, or a string sent as it is (a Buffer as its bytes), with extra headers if given. */
export interface CannedAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** An answer written by hand, for misbehaviour a canned one cannot show (a body that never ends). */
export interface RawAnswer {
  raw: (res: ServerResponse) => void;
}

export interface FakeOpenAiOptions {
  /** Models it serves; others are answered 404 model_not_found, as OpenAI does. */
  models: string[];
  /** The key it expects as `Authorization: Bearer <key>`; a wrong one is answered 401. */
  apiKey?: string;
  /** The address it listens on: 127.0.0.1 unless given (::1 for an IPv6 literal in the URL). */
  host?: string;
  /** Certificate and key files to serve HTTPS with instead of HTTP. */
  tls?: { cert: string; key: string };
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
  readonly #queued: (CannedAnswer | RawAnswer | 'stall')[] = [];
  #closed = false;

  private constructor(
    private readonly server: Server | TlsServer,
    private readonly options: FakeOpenAiOptions,
    /** e.g. http://127.0.0.1:41234/v1, what OPENAI_BASE_URL would hold; kept after close. */
    readonly baseUrl: string,
  ) {}

  static async start(options: FakeOpenAiOptions): Promise<FakeOpenAiServer> {
    const server = options.tls ? createTlsServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }) : createServer();
    const host = options.host ?? '127.0.0.1';
    server.listen(0, host);
    await once(server, 'listening');
    const authority = `${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;
    const fake = new FakeOpenAiServer(server, options, `${options.tls ? 'https' : 'http'}://${authority}/v1`);
    // A client that hangs up mid-body leaves nothing to answer.
    server.on('request', (req, res) => fake.#answer(req, res).catch(() => res.destroy()));
    return fake;
  }

  /** The next request gets this answer (or none at all: 'stall') instead of the protocol's. */
  answerNext(answer: CannedAnswer | RawAnswer | 'stall'): void {
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
    if (canned && 'raw' in canned) return canned.raw(res);
    if (canned) return send(res, canned.status, canned.body, canned.headers);
    send(res, ...this.#protocolAnswer(req, path, body));
  }

  #protocolAnswer(req: IncomingMessage, path: string, body: unknown): [number, unknown] {
    const given = req.headers.authorization?.replace(/^Bearer /, '');
    if (this.options.apiKey !== undefined && given !== this.options.apiKey) {
      return [401, openAiError(`Incorrect API key provided: ${given ?? '(none)'}.`, 'invalid_request_error', 'invalid_api_key')];
    }
    // A query (Azure's ?api-version=...) is recorded, and does not change the route.
    const route = path.split('?')[0];
    if (req.method !== 'POST' || (route !== '/v1/chat/completions' && route !== '/v1/embeddings')) {
      return [404, openAiError(`Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error', 'unknown_url')];
    }
    if (!isRecord(body) || typeof body['model'] !== 'string') return [400, openAiError('The body must be a JSON object with a model.', 'invalid_request_error', null)];
    const model = body['model'];
    if (!this.options.models.includes(model)) {
      return [404, openAiError(`The model \`${model}\` does not exist.`, 'invalid_request_error', 'model_not_found')];
    }
    return route === '/v1/chat/completions' ? chatCompletion(model, body) : embeddingList(model, body);
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

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const raw = typeof body === 'string' || Buffer.isBuffer(body);
  const text = raw ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': raw ? 'text/plain' : 'application/json', ...headers });
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

/** A raw answer and how many body bytes it has written so far. */
export interface CountedAnswer extends RawAnswer {
  sent: () => number;
}

/**
 * A 200 whose body never ends: 1 MiB chunks of JSON-looking text, as fast as the client reads
 * them, until it hangs up; with the headers given (a Content-Length it does not keep to).
 */
export function endlessBody(headers: Record<string, string> = {}): CountedAnswer {
  let sent = 0;
  const chunk = Buffer.alloc(1024 * 1024, '[0.1,');
  return {
    sent: () => sent,
    raw: (res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      const pump = () => {
        while (!res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return;
        }
      };
      res.on('drain', pump);
      pump();
    },
  };
}

/** A 200 whose headers come at once, then `body` one byte every `everyMs`. */
export function tricklingBody(body: string, everyMs: number): CountedAnswer {
  let sent = 0;
  return {
    sent: () => sent,
    raw: (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => {
        if (sent >= body.length) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(body[sent]);
        sent += 1;
      }, everyMs);
      res.on('close', () => clearInterval(timer));
    },
  };
}

/** A 200 that sends the start of `body` and then drops the connection, with or without a Content-Length. */
export function brokenOffBody(body: string, withLength: boolean): RawAnswer {
  return {
    raw: (res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...(withLength ? { 'content-length': String(Buffer.byteLength(body)) } : {}) });
      res.write(body.slice(0, Math.floor(body.length / 2)), () => setTimeout(() => res.destroy(), 20));
    },
  };
}
