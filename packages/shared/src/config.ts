import { z } from 'zod';
import { parsePartitionCounts } from './partitions.js';

/**
 * Every setting Conveyor reads, parsed once at start from the environment.
 * A bad value stops the process with one line per bad variable, naming it.
 */

// Units in either case, as sizes take them: `30S` is 30 seconds, not a typo to stop on. Except a
// lone `M`, which could mean months (JOB_RETENTION=6M): refused rather than read as minutes.
const durationPattern = /^(\d+)\s*(ms|s|m|h|d)?$/i;
const durationUnits: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `5m`, `7d`, `250ms` or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = durationPattern.exec(text.trim());
  if (!match || match[2] === 'M') return undefined;
  return Number(match[1]) * durationUnits[(match[2] ?? 'ms').toLowerCase()]!;
}

/**
 * The longest a duration kept by a timer may be: Node's timers hold at most 2^31 - 1 ms (24.8
 * days) and take a longer one as 1 ms, which turns a heartbeat or a blocking read into a busy loop.
 */
const TIMER_MOST = '24d';
/**
 * Half that, for a setting a timer doubles or adds to another: the API's connection timeout is
 * twice the longer of REQUEST_TIMEOUT and SSE_HEARTBEAT, a blocking read's silence timeout
 * BLOCK_MS plus REDIS_TIMEOUT.
 */
const HALF_TIMER_MOST = '12d';

/**
 * A duration setting. `least` is the shortest that works: a 0 would turn an interval into a busy
 * loop, a blocking read into one that never returns (BLOCK 0), or a retention into deletion.
 * `most`, when given, is the longest (TIMER_MOST for a setting a timer keeps).
 */
const duration = (fallback: string, least = '0ms', most?: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        const months = /^\s*\d+\s*M\s*$/.test(text) ? ' (M could mean months, which are no unit: write m for minutes)' : '';
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration; write e.g. 250ms, 30s, 5m, 7d${months}` });
        return z.NEVER;
      }
      if (ms < parseDuration(least)!) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is shorter than the least it can be, ${least}` });
        return z.NEVER;
      }
      if (most !== undefined && ms > parseDuration(most)!) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is longer than the most it can be, ${most}` });
        return z.NEVER;
      }
      if (!Number.isSafeInteger(ms)) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is longer than any duration can be` });
        return z.NEVER;
      }
      return ms;
    });

/** Reads a whole number from `min` to `max` in plain digits (not `1e3` or `0x1F`), or says what is wrong with the text. */
const wholeNumber =
  (min: number, max: number) =>
  (text: string, ctx: z.RefinementCtx): number => {
    const value = Number(text);
    if (!/^\s*-?\d+\s*$/.test(text) || !Number.isInteger(value) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return value;
  };

const integer = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) => z.string().default(String(fallback)).transform(wholeNumber(min, max));

const sizeUnits: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

/** `20MiB`, `512KiB`, `1GB` or a bare number of bytes. */
function parseByteSize(text: string): number | undefined {
  const match = /^(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * sizeUnits[(match[2] ?? 'b').toLowerCase()]!;
}

/** A size setting, from `least` to `most` (both written as sizes are, e.g. 1KiB). */
const byteSize = (fallback: string, least = '0', most = '1024GiB') =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      if (parseByteSize(text) === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a size; write e.g. 20MiB, 512KiB or a number of bytes` });
        return z.NEVER;
      }
      const bytes = parseByteSize(text)!;
      if (bytes < parseByteSize(least)! || bytes > parseByteSize(most)!) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a size from ${least} to ${most}` });
        return z.NEVER;
      }
      return bytes;
    });

const redisUrl = z
  .string()
  .default('redis://127.0.0.1:6379')
  // abort: a text that is no redis:// URL needs no second line saying it is no URL.
  .refine((text) => /^rediss?:\/\//.test(text), { message: 'must start with redis:// or rediss://, e.g. redis://user:password@host:6379/0', abort: true })
  .refine((text) => URL.canParse(text), { message: 'is not a valid URL', abort: true })
  // `/1.5` was taken as database 1, and `/abc` reached Redis as database NaN.
  .refine((text) => /^\/?(\d+)?$/.test(new URL(text).pathname), 'may end with a database number only, e.g. redis://host:6379/2 (or no path, for database 0)');

/** `host:port` (a bracketed IPv6 address for host), port 1 to 65535. */
const NODE_ADDRESS = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const isNodeAddress = (node: string) => {
  const port = Number(NODE_ADDRESS.exec(node)?.[2] ?? 0);
  return port >= 1 && port <= 65535;
};

const clusterNodes = z
  .string()
  .default('')
  .transform((text) => text.split(',').map((node) => node.trim()).filter(Boolean))
  .refine((nodes) => nodes.every(isNodeAddress), 'must be host:port addresses separated by commas, e.g. 10.0.0.6:7000,10.0.0.7:7000');

const keyPrefix = z
  .string()
  .default('conveyor')
  .refine((text) => /^[A-Za-z0-9_.-]+$/.test(text), 'may hold only letters, digits, "_", "." and "-"');

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

/**
 * A secret that goes into an HTTP header (a bearer token). Whitespace around it is dropped: a
 * secret read from a file (`kubectl create secret --from-file`) often ends with a line break,
 * which no header can carry, so the token could never be matched. One with a control character
 * inside could never be sent at all, and one with a character beyond ASCII (`€`) is sent as bytes
 * each client encodes its own way (fetch refuses it), so both are refused.
 */
const secretSetting = z
  .string()
  .transform((text) => text.trim())
  .refine((text) => !/[\u0000-\u001f\u007f]/.test(text), 'holds a control character (a line break or tab inside it): no HTTP header can carry it, so no request could send it')
  .refine((text) => /^[\u0000-\u007f]*$/.test(text), 'holds a character beyond ASCII: HTTP clients send such a header differently or not at all; use letters, digits and ASCII punctuation (openssl rand -hex 24)');

const nameList = z
  .string()
  .default('')
  .transform((text) => text.split(',').map((name) => name.trim()).filter(Boolean))
  .refine((names) => names.every((name) => /^[\w.:/@-]{1,200}$/.test(name)), 'must be model names separated by commas, e.g. llama3.1,qwen2.5:7b');

const partitionCounts = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const counts = parsePartitionCounts(text);
    if (typeof counts === 'string') {
      ctx.addIssue({ code: 'custom', message: counts });
      return z.NEVER;
    }
    return counts;
  });

const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((text) => text === 'true' || text === '1' || text === 'yes');

const commonSchema = {
  REDIS_URL: redisUrl,
  /** REDIS_URL is a node of a Redis Cluster: commands go to the node serving each queue's slot. */
  REDIS_CLUSTER: booleanFlag(false),
  /** More nodes of the cluster to start from, tried when REDIS_URL's node cannot be reached; REDIS_URL's credentials and TLS apply. */
  REDIS_CLUSTER_NODES: clusterNodes,
  KEY_PREFIX: keyPrefix,
  /** Hot queues split into partitions (`documents=4,inference=8`), for Redis Cluster; the API and every worker must agree. */
  QUEUE_PARTITIONS: partitionCounts,
  LOG_LEVEL: logLevel,
  /** `production` refuses a Redis that can evict keys; a misspelt value would silently not. */
  NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
  /** Finished job records (and their documents) expire after this long. */
  JOB_RETENTION: duration('7d', '1s'),
  /** A held job's lease; the worker renews it while the job runs. */
  LEASE_MS: duration('30s', '1s', TIMER_MOST),
  /** Attempts per stage before a job is dead-lettered. */
  MAX_ATTEMPTS: integer(3, 1, 100),
  /** Largest accepted document upload. */
  MAX_DOCUMENT_BYTES: byteSize('20MiB', '1', '512MiB'),
  /** A Redis connection with a command waiting this long for any reply is taken as dead and replaced. */
  REDIS_TIMEOUT: duration('15s', '500ms', HALF_TIMER_MOST),
  /** On SIGTERM, how long in-flight work may take to finish before the process lets go of it. */
  SHUTDOWN_GRACE_MS: duration('25s', '0ms', TIMER_MOST),
  /** An OpenAI-compatible endpoint (vLLM, Ollama, a hosted API), e.g. http://localhost:11434/v1. */
  OPENAI_BASE_URL: z
    .string()
    .optional()
    .refine((text) => text === undefined || (URL.canParse(text) && /^https?:/.test(text)), 'must be an http(s) URL, e.g. http://localhost:11434/v1'),
  OPENAI_API_KEY: secretSetting.optional(),
  /** Model names served by OPENAI_BASE_URL's /chat/completions. */
  OPENAI_CHAT_MODELS: nameList,
  /** Model names served by OPENAI_BASE_URL's /embeddings. */
  OPENAI_EMBEDDING_MODELS: nameList,
  /** How long one request to OPENAI_BASE_URL may take. */
  OPENAI_TIMEOUT_MS: duration('120s', '100ms', TIMER_MOST),
};

/**
 * Settings that only make sense together: a Redis Cluster has database 0 only, and more nodes
 * to start from only with REDIS_CLUSTER; adapter models need the adapter's URL, and may not
 * shadow built-ins.
 */
function checkSettings(
  env: { REDIS_URL: string; REDIS_CLUSTER: boolean; REDIS_CLUSTER_NODES: string[]; OPENAI_BASE_URL?: string | undefined; OPENAI_CHAT_MODELS: string[]; OPENAI_EMBEDDING_MODELS: string[] },
  ctx: z.RefinementCtx,
): void {
  const database = URL.canParse(env.REDIS_URL) ? new URL(env.REDIS_URL).pathname.replace(/^\//, '') : '';
  if (env.REDIS_CLUSTER && database !== '' && database !== '0') {
    ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: `selects database ${database}, but a Redis Cluster (REDIS_CLUSTER=true) has database 0 only; leave the path out, e.g. redis://host:6379` });
  }
  if (!env.REDIS_CLUSTER && env.REDIS_CLUSTER_NODES.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['REDIS_CLUSTER_NODES'], message: 'lists nodes of a Redis Cluster, but REDIS_CLUSTER is not set; set REDIS_CLUSTER=true, or unset REDIS_CLUSTER_NODES for a single Redis (REDIS_URL is its address)' });
  }
  const adapterModels = [...env.OPENAI_CHAT_MODELS, ...env.OPENAI_EMBEDDING_MODELS];
  if (adapterModels.length > 0 && env.OPENAI_BASE_URL === undefined) {
    ctx.addIssue({ code: 'custom', path: ['OPENAI_BASE_URL'], message: 'must be set when OPENAI_CHAT_MODELS or OPENAI_EMBEDDING_MODELS names models' });
  }
  for (const name of env.OPENAI_CHAT_MODELS.filter((model) => env.OPENAI_EMBEDDING_MODELS.includes(model))) {
    ctx.addIssue({ code: 'custom', path: ['OPENAI_EMBEDDING_MODELS'], message: `model "${name}" is also in OPENAI_CHAT_MODELS; a name can be one kind only` });
  }
  if (env.OPENAI_BASE_URL !== undefined && URL.canParse(env.OPENAI_BASE_URL)) {
    const url = new URL(env.OPENAI_BASE_URL);
    if (url.username || url.password) ctx.addIssue({ code: 'custom', path: ['OPENAI_BASE_URL'], message: 'may not hold a user or password; put the key in OPENAI_API_KEY' });
  }
  const builtin = new Set<string>(['echo', 'sentiment', 'summarize', 'embed', 'language']);
  for (const setting of ['OPENAI_CHAT_MODELS', 'OPENAI_EMBEDDING_MODELS'] as const) {
    for (const name of env[setting].filter((model) => builtin.has(model))) {
      ctx.addIssue({ code: 'custom', path: [setting], message: `model "${name}" is built in; give the endpoint's model another name` });
    }
  }
}

/** `scheme://host[:port]`, nothing after it (a path, even `/`, or a query); any case. */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]+$/i;

/**
 * `*`, or origins separated by commas, each read as a browser sends it in `Origin`: `HTTP://App.example.com:443` is written
 * `https://app.example.com`, with the scheme and host in lower case and no default port.
 */
const originList = z
  .string()
  .default('')
  .transform((text) => text.split(',').map((origin) => origin.trim()).filter(Boolean))
  .refine(
    (origins) => origins.every((origin) => origin === '*' || (ORIGIN.test(origin) && URL.canParse(origin) && new URL(origin).origin !== 'null')),
    'must be * or origins separated by commas, each scheme://host[:port] with no path or trailing slash, e.g. http://localhost:5173,https://app.example.com',
  )
  // A browser sends its page's origin as it is, and the list is matched letter for letter: a
  // pattern such as http://*.example.com would parse as a host named "*.example.com" and match nothing.
  .refine(
    (origins) => origins.every((origin) => origin === '*' || !URL.canParse(origin) || !new URL(origin).hostname.includes('*')),
    'takes no wildcard in a host name: list each origin (https://app.example.com,https://admin.example.com), or * alone for any',
  )
  .transform((origins) => origins.map((origin) => (origin === '*' ? origin : new URL(origin).origin)))
  .refine((origins) => !origins.includes('*') || origins.length === 1, 'is * alone, or a list of origins, not both');

/** Host names, lowercased; `.example.com` stands for every name under example.com. */
const hostList = z
  .string()
  .default('')
  .transform((text) => text.split(',').map((host) => host.trim().toLowerCase()).filter(Boolean))
  .refine(
    (hosts) => hosts.every((host) => /^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host)),
    'must be host names separated by commas, without scheme or port (api.example.com,.corp.example for every name under corp.example)',
  );

export const apiEnvSchema = z.object({
  ...commonSchema,
  PORT: integer(3000, 0, 65_535),
  HOST: z.string().default('0.0.0.0'),
  /** Largest accepted JSON body. */
  MAX_BODY_BYTES: byteSize('1MiB', '1KiB', '512MiB'),
  /** Largest accepted body of POST /jobs/batch (up to 1,000 jobs). */
  MAX_BATCH_BYTES: byteSize('16MiB', '1KiB', '512MiB'),
  /**
   * Most bytes of upload and batch bodies one API process reads at once (each is held whole until
   * its jobs are stored); a request that would pass it is refused with a 503 before its body is read.
   */
  BODY_BUDGET: byteSize('64MiB').refine((bytes) => bytes >= 1024 * 1024, 'must be at least 1MiB'),
  /** Bearer token for the admin endpoints (broadcast, pause, history, replay); unset, they do not exist (404). */
  ADMIN_TOKEN: secretSetting.pipe(z.string().min(16, 'must be at least 16 characters')).optional(),
  /** Browser origins allowed to call the API from their pages (CORS); empty for none. */
  CORS_ORIGINS: originList,
  /**
   * Host names the API answers to besides IP addresses and localhost; empty for any. A page on a
   * name an attacker points at the API's address (DNS rebinding) is the API's own origin to the
   * browser: only the Host header tells it apart.
   */
  ALLOWED_HOSTS: hostList,
  /**
   * How long a request may take to arrive, headers and body. Fastify turns Node's limit off, and
   * then a client that sends headers and a body it never finishes holds its connection forever.
   */
  REQUEST_TIMEOUT: duration('5m', '1s', HALF_TIMER_MOST),
  /** Most event streams (SSE) one API process holds open; more are refused with a 503 until some close. */
  MAX_EVENT_STREAMS: integer(1_000, 1),
  /** Comment lines sent this often keep proxies from closing idle event streams. */
  SSE_HEARTBEAT: duration('15s', '100ms', HALF_TIMER_MOST),
  /** Most undone jobs (waiting or running in any stage, delayed, retrying) a queue may hold before POST answers 503; 0 for no limit. */
  MAX_BACKLOG: integer(100_000, 0),
  /** How long an Idempotency-Key names the job it created (each key is about 180 bytes of Redis). */
  IDEMPOTENCY_TTL: duration('24h', '1s'),
}).superRefine(checkSettings);

export const workerEnvSchema = z.object({
  ...commonSchema,
  /** Jobs one worker process runs at once. */
  CONCURRENCY: integer(8, 1, 10_000),
  /** The consumer name in every group; `<hostname>-<pid>` unless set. */
  CONSUMER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,200}$/, 'may hold only letters, digits, "_", ".", ":" and "-"')
    .optional(),
  /** How long one blocking read waits for new entries before the loop looks around again. */
  BLOCK_MS: duration('5s', '100ms', HALF_TIMER_MOST),
  /** The heap of the process that reads one PDF, DOCX, HTML or Markdown document; a document that needs more fails (DOCUMENT_TOO_LARGE). */
  DOCUMENT_READ_MEMORY: byteSize('256MiB').refine((bytes) => bytes >= 16 * 1024 * 1024, 'must be at least 16MiB'),
  /**
   * The most characters of text one document may yield (the extract stage's output, kept in
   * Redis with the job); more fails (DOCUMENT_TOO_LARGE). A 0.25 MB DOCX can unpack to 64 MB of
   * text. Unset, the worker's MAX_DOCUMENT_BYTES: any text file the API accepts fits when both are given the same.
   */
  MAX_DOCUMENT_TEXT: z.string().transform(wholeNumber(1, Number.MAX_SAFE_INTEGER)).optional(),
  /**
   * Bytes of documents and earlier stages' outputs (a document's text) a worker's running jobs
   * load at once; a job that would go past it waits its turn (one larger than it runs alone).
   */
  LOAD_BUDGET: byteSize('64MiB').refine((bytes) => bytes >= 1024 * 1024, 'must be at least 1MiB'),
  /** How long reading one document (not plain text) may take; longer fails (DOCUMENT_TOO_SLOW). */
  DOCUMENT_READ_TIMEOUT: duration('2m', '100ms', TIMER_MOST),
  /** Port of the worker's health listener (`/healthz`, `/readyz`); 0 picks a free port, -1 turns it off. */
  WORKER_PORT: integer(9464, -1, 65_535),
  WORKER_HOST: z.string().default('0.0.0.0'),
  /** Jobs of the normal and low lanes waiting longer than this are taken before newer high ones; 0 for strict priority. */
  PRIORITY_AGING: duration('60s'),
  /** A job whose worker stops while holding it (a lapsed lease) more often than this is dead-lettered. */
  MAX_STALLS: integer(5, 0, 1_000),
  /** Stages to serve: `<queue>` or `<queue>:<stage>`, comma-separated; unset serves every stage. */
  WORKER_STAGES: z.string().optional(),
  /** Load the built-in NLP models before taking jobs (when a served stage uses them); `false` loads each on first use. */
  PRELOAD_MODELS: booleanFlag(true),
  /** Acknowledged stream entries are kept this long for history and replay, then trimmed. */
  STREAM_HISTORY: duration('1h'),
  /** How often a worker trims streams and prunes consumers that left. */
  TRIM_INTERVAL: duration('10s', '10ms', TIMER_MOST),
  /** How often a worker promotes due delayed jobs and takes over jobs whose lease lapsed. */
  MAINTENANCE_INTERVAL: duration('1s', '10ms', TIMER_MOST),
  /** Consumers with nothing pending and idle this long are removed from their groups. */
  CONSUMER_RETENTION: duration('1h', '1s'),
  /** Log each transition at info level (otherwise debug). */
  LOG_TRANSITIONS: booleanFlag(true),
}).superRefine(checkSettings);

export type ApiConfig = z.output<typeof apiEnvSchema>;
export type WorkerConfig = z.output<typeof workerEnvSchema>;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((line) => `  - ${line}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Settings whose values are secrets: an error names their length, never their text. */
const SECRET_SETTINGS = new Set(['ADMIN_TOKEN', 'OPENAI_API_KEY']);

/**
 * A setting's value as a configuration error shows it. Errors go to logs, so secrets are not
 * shown, and a URL's user and password (`redis://:secret@host`) are masked: everything before
 * the last `@`, after the scheme, since a value shown here is often not a valid URL and its
 * password may hold `/`, `@` or spaces.
 */
function shownValue(name: string, value: string): string {
  // Counted as checked: without the whitespace around it (see secretSetting).
  if (SECRET_SETTINGS.has(name)) return `${value.trim().length} characters, not shown`;
  const withoutUser = value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/is, (_match, scheme: string | undefined) => `${scheme ?? ''}***@`);
  // A query string or fragment may carry a key (`?api_key=...`, `#access_token=...`): its values are masked too.
  return `"${withoutUser.replace(/([?&#][^=&#]*=)[^&#]*/g, '$1***')}"`;
}

/** Parses the environment; empty strings count as unset so `FOO=` falls back to the default. */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.');
    const value = present[name];
    const shown = value === undefined ? '' : ` (got ${shownValue(name, value)})`;
    const message = issue.code === 'invalid_value' ? `must be one of ${issue.values.join(', ')}` : issue.message;
    return `${name}${shown}: ${message.replace(/^"[^"]*" /, '')}`;
  });
  throw new ConfigError(problems);
}
