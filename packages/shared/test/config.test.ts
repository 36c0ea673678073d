import { describe, expect, test } from 'vitest';
import { apiEnvSchema, ConfigError, loadConfig, parseDuration, workerEnvSchema } from '../src/config.js';

describe('configuration from the environment', () => {
  test('an empty environment gives working defaults', () => {
    const api = loadConfig(apiEnvSchema, {});
    expect(api).toMatchObject({ REDIS_URL: 'redis://127.0.0.1:6379', PORT: 3000, HOST: '0.0.0.0', KEY_PREFIX: 'conveyor', LOG_LEVEL: 'info' });
    expect(api.MAX_DOCUMENT_BYTES).toBe(20 * 1024 * 1024);
    expect(api.JOB_RETENTION).toBe(7 * 86_400_000);
    const worker = loadConfig(workerEnvSchema, {});
    expect(worker).toMatchObject({ CONCURRENCY: 8, LEASE_MS: 30_000, MAX_ATTEMPTS: 3, PRELOAD_MODELS: true });
  });

  test('each bad variable gets its own line that names it and says what is allowed', () => {
    // "garbage" is no URL either: one line still, the one that says what to write.
    const env = { REDIS_URL: 'garbage', PORT: '99999', LOG_LEVEL: 'loud', LEASE_MS: 'soon', MAX_DOCUMENT_BYTES: 'huge', NODE_ENV: 'prod' };
    let error: unknown;
    try {
      loadConfig(apiEnvSchema, env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(6);
    expect(problems.find((line) => line.startsWith('REDIS_URL'))).toMatch(/redis:\/\/ or rediss:\/\//);
    // A misspelt production would silently skip production's refusal of an evicting Redis.
    expect(problems.find((line) => line.startsWith('NODE_ENV'))).toMatch(/"prod".*one of production, development, test/);
    expect(problems.find((line) => line.startsWith('PORT'))).toMatch(/"99999".*0 to 65535/);
    expect(problems.find((line) => line.startsWith('LOG_LEVEL'))).toMatch(/one of fatal, error, warn, info/);
    expect(problems.find((line) => line.startsWith('LEASE_MS'))).toMatch(/duration; write e\.g\. 250ms, 30s/);
    expect(problems.find((line) => line.startsWith('MAX_DOCUMENT_BYTES'))).toMatch(/size; write e\.g\. 20MiB/);
  });

  test('QUEUE_PARTITIONS gives queues partitions; an unknown queue, a bad count or a bad form is named', () => {
    expect(loadConfig(workerEnvSchema, {}).QUEUE_PARTITIONS).toEqual({});
    expect(loadConfig(apiEnvSchema, { QUEUE_PARTITIONS: 'documents=4, inference = 8' }).QUEUE_PARTITIONS).toEqual({ documents: 4, inference: 8 });
    const refusals: [string, RegExp][] = [
      ['videos=2', /names queue "videos", which does not exist; queues: inference, documents, document-summary/],
      ['inference=0', /gives queue "inference" 0 partitions; a queue has 1 to 32/],
      ['inference=33', /1 to 32/],
      ['inference', /is not <queue>=<count>; write e\.g\. documents=4,inference=8/],
      ['inference=2,inference=3', /names queue "inference" twice/],
    ];
    for (const [text, message] of refusals) expect(() => loadConfig(apiEnvSchema, { QUEUE_PARTITIONS: text }), text).toThrow(message);
  });

  test('ALLOWED_HOSTS takes host names, lowercased, and .suffixes; a scheme or a port is refused', () => {
    expect(loadConfig(apiEnvSchema, {}).ALLOWED_HOSTS).toEqual([]);
    expect(loadConfig(apiEnvSchema, { ALLOWED_HOSTS: 'API.example.com, .corp.example,localhost' }).ALLOWED_HOSTS).toEqual(['api.example.com', '.corp.example', 'localhost']);
    for (const bad of ['http://api.example.com', 'api.example.com:3000', 'a b', '*', 'api..example']) {
      expect(() => loadConfig(apiEnvSchema, { ALLOWED_HOSTS: bad }), bad).toThrow(/ALLOWED_HOSTS \(got ".*"\): must be host names separated by commas/);
    }
  });

  test('CORS_ORIGINS takes * or a list of bare origins', () => {
    expect(loadConfig(apiEnvSchema, {}).CORS_ORIGINS).toEqual([]);
    expect(loadConfig(apiEnvSchema, { CORS_ORIGINS: 'http://localhost:5173, https://app.example.com' }).CORS_ORIGINS).toEqual(['http://localhost:5173', 'https://app.example.com']);
    expect(loadConfig(apiEnvSchema, { CORS_ORIGINS: '*' }).CORS_ORIGINS).toEqual(['*']);
    // As a browser sends Origin: a default port and an upper-case scheme or host were refused, in words that did not say why.
    expect(loadConfig(apiEnvSchema, { CORS_ORIGINS: 'http://127.0.0.1:80,HTTPS://App.Example.com:443,https://app.example.com:8443' }).CORS_ORIGINS).toEqual(['http://127.0.0.1', 'https://app.example.com', 'https://app.example.com:8443']);
    for (const bad of ['https://app.example.com/', 'app.example.com', 'https://app.example.com/path', 'https://app.example.com?x', 'https://user@app.example.com', '*,https://app.example.com']) {
      expect(() => loadConfig(apiEnvSchema, { CORS_ORIGINS: bad }), bad).toThrow(/CORS_ORIGINS \(got ".*"\): (must be \* or origins|is \* alone)/);
    }
    // It was taken, and then matched only a page whose Origin was that text itself.
    for (const wildcard of ['http://*.example.com', 'https://app.example.com,https://*.example.com:8443']) {
      expect(() => loadConfig(apiEnvSchema, { CORS_ORIGINS: wildcard }), wildcard).toThrow(/CORS_ORIGINS \(got ".*"\): takes no wildcard in a host name: list each origin/);
    }
  });

  test('a token read from a file keeps no line break: whitespace around ADMIN_TOKEN and OPENAI_API_KEY is dropped, a control character inside refused', () => {
    const config = loadConfig(apiEnvSchema, { ADMIN_TOKEN: 'adm1n-t0ken-supersecret-xyz\n', OPENAI_API_KEY: ' sk-from-a-file\r\n' });
    expect(config.ADMIN_TOKEN).toBe('adm1n-t0ken-supersecret-xyz');
    expect(config.OPENAI_API_KEY).toBe('sk-from-a-file');
    expect(() => loadConfig(apiEnvSchema, { ADMIN_TOKEN: 'adm1n-t0ken\nsupersecret-xyz' })).toThrow('ADMIN_TOKEN (got 27 characters, not shown): holds a control character');
    // fetch refuses to send it; curl sends its UTF-8 bytes, which Node reads as Latin-1: a 401 either way.
    for (const beyond of ['abcdefghijklmnop€', 'abcdefghijklmnop\u0085']) {
      expect(() => loadConfig(apiEnvSchema, { ADMIN_TOKEN: beyond })).toThrow('ADMIN_TOKEN (got 17 characters, not shown): holds a character beyond ASCII');
    }
    // Its length is counted, and said, without the line break.
    expect(() => loadConfig(apiEnvSchema, { ADMIN_TOKEN: '0123456789abcde\n' })).toThrow('ADMIN_TOKEN (got 15 characters, not shown): must be at least 16 characters');
  });

  test('a duration of 0 or close to it is refused where it would break the process, and taken where it means something', () => {
    const refused: [string, string, string][] = [
      ['BLOCK_MS', '0', '100ms'],
      ['MAINTENANCE_INTERVAL', '0ms', '10ms'],
      ['TRIM_INTERVAL', '0', '10ms'],
      ['LEASE_MS', '10', '1s'],
      ['JOB_RETENTION', '0s', '1s'],
      ['CONSUMER_RETENTION', '0', '1s'],
      ['OPENAI_TIMEOUT_MS', '5ms', '100ms'],
    ];
    for (const [name, value, least] of refused) {
      expect(() => loadConfig(workerEnvSchema, { [name]: value }), name).toThrow(`${name} (got "${value}"): is shorter than the least it can be, ${least}`);
    }
    expect(() => loadConfig(apiEnvSchema, { SSE_HEARTBEAT: '0' })).toThrow(/SSE_HEARTBEAT .*the least it can be, 100ms/);
    // The least itself is taken, and so is 0 where 0 has a meaning.
    expect(loadConfig(workerEnvSchema, { LEASE_MS: '1s', BLOCK_MS: '100ms', MAINTENANCE_INTERVAL: '10ms' })).toMatchObject({ LEASE_MS: 1_000, BLOCK_MS: 100, MAINTENANCE_INTERVAL: 10 });
    expect(loadConfig(workerEnvSchema, { PRIORITY_AGING: '0', STREAM_HISTORY: '0ms', SHUTDOWN_GRACE_MS: '0' })).toMatchObject({ PRIORITY_AGING: 0, STREAM_HISTORY: 0, SHUTDOWN_GRACE_MS: 0 });
  });

  test('a duration a timer keeps is refused past what a Node timer holds (2^31 - 1 ms, 24.8 days), not taken as 1 ms', () => {
    const refused: [typeof apiEnvSchema | typeof workerEnvSchema, string, string][] = [
      [apiEnvSchema, 'SSE_HEARTBEAT', '12d'],
      [apiEnvSchema, 'REQUEST_TIMEOUT', '12d'],
      [workerEnvSchema, 'BLOCK_MS', '12d'],
      [workerEnvSchema, 'REDIS_TIMEOUT', '12d'],
      [workerEnvSchema, 'SHUTDOWN_GRACE_MS', '24d'],
      [workerEnvSchema, 'LEASE_MS', '24d'],
      [workerEnvSchema, 'MAINTENANCE_INTERVAL', '24d'],
      [workerEnvSchema, 'TRIM_INTERVAL', '24d'],
      [workerEnvSchema, 'DOCUMENT_READ_TIMEOUT', '24d'],
      [workerEnvSchema, 'OPENAI_TIMEOUT_MS', '24d'],
    ];
    for (const [schema, name, most] of refused) {
      expect(() => loadConfig(schema, { [name]: '30d' }), name).toThrow(`${name} (got "30d"): is longer than the most it can be, ${most}`);
      expect((loadConfig(schema, { [name]: most }) as Record<string, unknown>)[name], name).toBe(parseDuration(most));
    }
    // Settings kept by Redis (expiries) have no such bound; a number no duration can be is still refused.
    expect(loadConfig(workerEnvSchema, { JOB_RETENTION: '90d', STREAM_HISTORY: '30d' })).toMatchObject({ JOB_RETENTION: 90 * 86_400_000, STREAM_HISTORY: 30 * 86_400_000 });
    expect(() => loadConfig(workerEnvSchema, { JOB_RETENTION: `${'9'.repeat(30)}d` })).toThrow(/JOB_RETENTION .*longer than any duration can be/);
  });

  test('a size is refused outside what its limit can be: a body limit of 0 or past what Redis stores in one value', () => {
    for (const name of ['MAX_BODY_BYTES', 'MAX_BATCH_BYTES']) {
      expect(() => loadConfig(apiEnvSchema, { [name]: '0' }), name).toThrow(`${name} (got "0"): is not a size from 1KiB to 512MiB`);
      expect(() => loadConfig(apiEnvSchema, { [name]: '9'.repeat(400) }), name).toThrow(/is not a size from 1KiB to 512MiB/);
    }
    expect(() => loadConfig(apiEnvSchema, { MAX_DOCUMENT_BYTES: '0' })).toThrow('MAX_DOCUMENT_BYTES (got "0"): is not a size from 1 to 512MiB');
    expect(() => loadConfig(apiEnvSchema, { MAX_DOCUMENT_BYTES: '1GiB' })).toThrow('MAX_DOCUMENT_BYTES (got "1GiB"): is not a size from 1 to 512MiB');
    expect(() => loadConfig(workerEnvSchema, { LOAD_BUDGET: `${'9'.repeat(400)}GiB` })).toThrow(/LOAD_BUDGET .*is not a size from 0 to 1024GiB/);
    expect(loadConfig(apiEnvSchema, { MAX_BODY_BYTES: '1KiB', MAX_BATCH_BYTES: '512MiB', MAX_DOCUMENT_BYTES: '1' })).toMatchObject({ MAX_BODY_BYTES: 1024, MAX_BATCH_BYTES: 512 * 1024 ** 2, MAX_DOCUMENT_BYTES: 1 });
  });

  test('a whole number is written in plain digits: 1e3 and 0x1F are refused, not read as 1000 and 31', () => {
    for (const value of ['1e3', '0x1F', '1.0', '+80', '8 0']) {
      expect(() => loadConfig(apiEnvSchema, { PORT: value }), value).toThrow(`PORT (got "${value}"): is not a whole number from 0 to 65535`);
    }
    expect(loadConfig(workerEnvSchema, { WORKER_PORT: '-1', CONCURRENCY: ' 16 ' })).toMatchObject({ WORKER_PORT: -1, CONCURRENCY: 16 });
  });

  test('a built-in model name given to the endpoint is named under the setting that lists it', () => {
    const endpoint = { OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' };
    expect(() => loadConfig(workerEnvSchema, { ...endpoint, OPENAI_CHAT_MODELS: 'llama', OPENAI_EMBEDDING_MODELS: 'embed' })).toThrow(
      'OPENAI_EMBEDDING_MODELS (got "embed"): model "embed" is built in',
    );
    expect(() => loadConfig(workerEnvSchema, { ...endpoint, OPENAI_CHAT_MODELS: 'summarize' })).toThrow('OPENAI_CHAT_MODELS (got "summarize"): model "summarize" is built in');
  });

  test('an empty variable counts as unset', () => {
    expect(loadConfig(apiEnvSchema, { PORT: '', REDIS_URL: '' })).toMatchObject({ PORT: 3000, REDIS_URL: 'redis://127.0.0.1:6379' });
  });

  test('REDIS_CLUSTER is off by default; on a cluster the URL may not select a database', () => {
    expect(loadConfig(apiEnvSchema, {}).REDIS_CLUSTER).toBe(false);
    expect(loadConfig(workerEnvSchema, { REDIS_CLUSTER: 'true', REDIS_URL: 'redis://node-1:7000' })).toMatchObject({ REDIS_CLUSTER: true });
    expect(loadConfig(apiEnvSchema, { REDIS_CLUSTER: 'true', REDIS_URL: 'redis://node-1:7000/0' }).REDIS_CLUSTER).toBe(true);
    expect(() => loadConfig(apiEnvSchema, { REDIS_CLUSTER: 'true', REDIS_URL: 'redis://node-1:7000/3' })).toThrow(
      /REDIS_URL \(got "redis:\/\/node-1:7000\/3"\): selects database 3, but a Redis Cluster \(REDIS_CLUSTER=true\) has database 0 only/,
    );
    expect(() => loadConfig(apiEnvSchema, { REDIS_CLUSTER: 'maybe' })).toThrow(/REDIS_CLUSTER/);
  });

  test('REDIS_CLUSTER_NODES lists more cluster nodes to start from, as host:port, only with REDIS_CLUSTER', () => {
    expect(loadConfig(apiEnvSchema, {}).REDIS_CLUSTER_NODES).toEqual([]);
    const cluster = { REDIS_CLUSTER: 'true', REDIS_URL: 'redis://node-1:7000' };
    expect(loadConfig(workerEnvSchema, { ...cluster, REDIS_CLUSTER_NODES: ' node-2:7000, 10.0.0.7:7001,[fd00::8]:7002 ' }).REDIS_CLUSTER_NODES).toEqual(['node-2:7000', '10.0.0.7:7001', '[fd00::8]:7002']);
    for (const bad of ['node-2', 'node-2:', 'node-2:0', 'node-2:65536', 'redis://node-2:7000', 'node 2:7000', 'fd00::8:7000']) {
      expect(() => loadConfig(apiEnvSchema, { ...cluster, REDIS_CLUSTER_NODES: bad }), bad).toThrow(
        /REDIS_CLUSTER_NODES .*must be host:port addresses separated by commas, e.g. 10.0.0.6:7000,10.0.0.7:7000/,
      );
    }
    expect(() => loadConfig(apiEnvSchema, { REDIS_CLUSTER_NODES: 'node-2:7000' })).toThrow(/REDIS_CLUSTER_NODES .*lists nodes of a Redis Cluster, but REDIS_CLUSTER is not set/);
  });

  test('durations and sizes take units', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('1500')).toBe(1500);
    expect(parseDuration('1.5s')).toBeUndefined();
    // Units in either case, and a space before one, as sizes take them.
    expect(parseDuration('30S')).toBe(30_000);
    expect(parseDuration('250MS')).toBe(250);
    expect(parseDuration('5 m')).toBe(300_000);
    expect(loadConfig(workerEnvSchema, { LEASE_MS: '45S' }).LEASE_MS).toBe(45_000);
    expect(parseDuration('5 mins')).toBeUndefined();
    // A lone capital M could mean months: refused, not read as minutes.
    expect(parseDuration('6M')).toBeUndefined();
    expect(() => loadConfig(workerEnvSchema, { JOB_RETENTION: '6M' })).toThrow(/JOB_RETENTION \(got "6M"\): is not a duration; write e\.g\. 250ms, 30s, 5m, 7d \(M could mean months, which are no unit: write m for minutes\)/);
    expect(loadConfig(apiEnvSchema, { MAX_DOCUMENT_BYTES: '512KiB' }).MAX_DOCUMENT_BYTES).toBe(524_288);
    expect(loadConfig(workerEnvSchema, {}).DOCUMENT_READ_MEMORY).toBe(256 * 1024 * 1024);
    expect(() => loadConfig(workerEnvSchema, { DOCUMENT_READ_MEMORY: '8MiB' })).toThrow(/DOCUMENT_READ_MEMORY .*must be at least 16MiB/);
    expect(loadConfig(workerEnvSchema, {}).DOCUMENT_READ_TIMEOUT).toBe(120_000);
    expect(loadConfig(workerEnvSchema, {}).MAX_DOCUMENT_TEXT).toBeUndefined();
    expect(loadConfig(workerEnvSchema, { MAX_DOCUMENT_TEXT: '1000000' }).MAX_DOCUMENT_TEXT).toBe(1_000_000);
    expect(() => loadConfig(workerEnvSchema, { MAX_DOCUMENT_TEXT: '20MiB' })).toThrow(/MAX_DOCUMENT_TEXT .*not a whole number/);
    expect(loadConfig(apiEnvSchema, { REDIS_URL: 'rediss://user:secret@cache.example:6380/2' }).REDIS_URL).toBe('rediss://user:secret@cache.example:6380/2');
    // A database that is no whole number: `/1.5` used database 1, `/abc` reached Redis as NaN.
    for (const path of ['/1.5', '/abc', '/2/x', '/-1']) {
      expect(() => loadConfig(apiEnvSchema, { REDIS_URL: `redis://127.0.0.1:6379${path}` }), path).toThrow(/REDIS_URL .*: may end with a database number only/);
    }
    expect(loadConfig(apiEnvSchema, { REDIS_URL: 'redis://127.0.0.1:6379/' }).REDIS_URL).toBe('redis://127.0.0.1:6379/');
  });

  test('an error never shows a secret: tokens and keys by their length, URLs with their user and password masked', () => {
    const error = (env: Record<string, string>) => {
      try {
        loadConfig(apiEnvSchema, env);
      } catch (caught) {
        return (caught as Error).message;
      }
      throw new Error('the configuration was accepted');
    };
    const token = error({ ADMIN_TOKEN: 'hunter2-almost' });
    expect(token).toContain('ADMIN_TOKEN (got 14 characters, not shown): must be at least 16 characters');
    expect(token).not.toContain('hunter2');
    expect(error({ REDIS_URL: 'http://app:s3cret@cache.example:6379' })).toContain('REDIS_URL (got "http://***@cache.example:6379"): must start with redis://');
    const database = error({ REDIS_URL: 'rediss://:s3cret@node-1:7000/3', REDIS_CLUSTER: 'true' });
    expect(database).toContain('REDIS_URL (got "rediss://***@node-1:7000/3"): selects database 3');
    expect(database).not.toContain('s3cret');
    const adapter = error({ OPENAI_BASE_URL: 'http://me:s3cret@llm.example/v1', OPENAI_API_KEY: 'sk-s3cret' });
    expect(adapter).toContain('OPENAI_BASE_URL (got "http://***@llm.example/v1"): may not hold a user or password');
    expect(adapter).not.toContain('s3cret');
    // A key in the query string, as Azure's and some proxies' URLs carry one.
    const query = error({ OPENAI_BASE_URL: 'ftp://h/v1?api_key=sekritkey&access_token=tok123' });
    expect(query).toContain('OPENAI_BASE_URL (got "ftp://h/v1?api_key=***&access_token=***"): must be an http(s) URL');
    expect(query).not.toMatch(/sekritkey|tok123/);
    expect(error({ OPENAI_BASE_URL: 'ftp://h/v1#access_token=SECRET9' })).toContain('(got "ftp://h/v1#access_token=***")');
  });
});
