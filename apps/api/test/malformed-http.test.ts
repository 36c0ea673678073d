import { connect } from 'node:net';
import { describe, expect } from 'vitest';
import { form } from './multipart-form.js';
import { buildTestApp, testWithListeningApp } from './test-app.js';

const test = testWithListeningApp();

/** Writes raw bytes to the API and reads everything it answers until it closes the connection. */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

function problemOf(answer: string) {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { statusLine: head.split('\r\n')[0], headers: head.toLowerCase(), problem: JSON.parse(body) };
}

/** Each answer in `raw` (answers with a Content-Length, one after another): its status line, head in lower case and JSON body. */
function answersOf(raw: string) {
  const answers: { statusLine: string; headers: string; body: unknown }[] = [];
  let rest = Buffer.from(raw);
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    const head = rest.subarray(0, end).toString();
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    const body = rest.subarray(end + 4, end + 4 + length).toString();
    answers.push({ statusLine: head.split('\r\n')[0]!, headers: head.toLowerCase(), body: body === '' ? undefined : JSON.parse(body) });
    rest = rest.subarray(end + 4 + length);
  }
  return answers;
}

describe('bytes that are not HTTP get a problem body too', () => {
  test('a header line without a colon: 400', async ({ port }) => {
    const { statusLine, headers, problem } = problemOf(await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n'));
    expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(headers).toContain('content-type: application/problem+json');
    expect(problem).toEqual({ type: 'about:blank', title: 'Bad Request', status: 400, detail: expect.stringMatching(/not valid HTTP \(HPE_INVALID_HEADER_TOKEN\)/) });
  });

  test('a method the parser does not know: 501 naming it (it is valid HTTP); a chunk longer than its size: 400 that says so, not a header fault', async ({ port }) => {
    for (const [method, cased] of [['FOO', ''], ['get', ' (methods are case-sensitive: GET)']]) {
      const { statusLine, headers, problem } = problemOf(await exchange(port, `${method} /jobs HTTP/1.1\r\nHost: x\r\n\r\n`));
      expect(statusLine, method).toBe('HTTP/1.1 501 Not Implemented');
      expect(headers).toContain('content-type: application/problem+json');
      expect(problem).toEqual({ type: 'about:blank', title: 'Not Implemented', status: 501, detail: `The method ${method} is not one this server knows${cased}; its routes take GET, HEAD, POST, DELETE and OPTIONS (see GET /docs).` });
    }
    // After a request on the same connection: that one is answered, then the 501 (it blamed the first request's body).
    const [healthy, unknown, ...rest] = answersOf(await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nFOO /jobs HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(healthy!.statusLine).toBe('HTTP/1.1 200 OK');
    expect(unknown!.statusLine).toBe('HTTP/1.1 501 Not Implemented');
    expect(unknown!.body).toMatchObject({ detail: expect.stringMatching(/^The method FOO is not one this server knows;/) });
    expect(rest).toEqual([]);
    // Bytes that are no request line at all stay a 400.
    expect(problemOf(await exchange(port, 'hello\r\n\r\n')).statusLine).toBe('HTTP/1.1 400 Bad Request');
    const chunked = 'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"model":"echo"}\r\n0\r\n\r\n';
    const { statusLine, problem } = problemOf(await exchange(port, chunked));
    expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(problem.detail).toBe("The request's chunked body has a chunk longer than its size says: each chunk starts with its length in bytes, in hexadecimal, then CRLF, and ends with CRLF right after that many bytes.");
  });

  test('headers over 16 KiB: 431', async ({ port }) => {
    const { statusLine, problem } = problemOf(await exchange(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(problem).toMatchObject({ type: 'about:blank', status: 431, detail: expect.stringContaining('headers are larger than the server takes') });
  });

  test('an HTTP/1.1 request without Host, or with an empty one: 400 that names the header, and no job stored', async ({ port, app }) => {
    const body = '{"model":"echo","prompt":"hi"}';
    const answer = await exchange(port, `POST /jobs HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    const { statusLine, headers, problem } = problemOf(answer);
    expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(headers).toContain('content-type: application/problem+json');
    expect(problem).toMatchObject({ status: 400, type: '/problems/invalid-request', detail: expect.stringContaining('needs a Host header') });
    // Its example is the port the request came to (it said localhost:3000 on any port).
    expect(problem.detail).toContain(`e.g. "Host: localhost:${port}"`);
    const empty = problemOf(await exchange(port, `POST /jobs HTTP/1.1\r\nHost: \r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`));
    expect(empty.problem).toMatchObject({ status: 400, detail: expect.stringContaining('has a Host header without a host name') });
    expect(await app.redis.hlen(app.jobs.keysOf('inference').queued)).toBe(0);
    // The same request with its Host is stored: the count above could have seen a job.
    const stored = await exchange(port, `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expect(stored.split('\r\n')[0]).toBe('HTTP/1.1 202 Accepted');
    expect(await app.redis.hlen(app.jobs.keysOf('inference').queued)).toBe(1);
  });

  test('an Expect other than 100-continue: 417 that says which one is taken (Node\'s own was empty), and no job stored', async ({ port, app }) => {
    const body = '{"model":"echo","prompt":"hi"}';
    const { statusLine, headers, problem } = problemOf(await exchange(port, `POST /jobs HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    expect(statusLine).toBe('HTTP/1.1 417 Expectation Failed');
    expect(headers).toContain('content-type: application/problem+json');
    expect(headers).toContain('connection: close');
    expect(problem).toEqual({ type: 'about:blank', title: 'Expectation Failed', status: 417, detail: expect.stringContaining('Expect: "200-ok" is not an expectation this server meets; the only one it takes is 100-continue') });
    expect(await app.redis.hlen(app.jobs.keysOf('inference').queued)).toBe(0);
    // 100-continue is met: the body is asked for and the job stored.
    const continued = await exchange(port, `POST /jobs HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expect(continued).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 202 Accepted/);
    expect(await app.redis.hlen(app.jobs.keysOf('inference').queued)).toBe(1);
  });

  test('CONNECT: 405 that says this is no proxy (Node closed the connection without a word)', async ({ port }) => {
    const { statusLine, headers, problem } = problemOf(await exchange(port, `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    expect(statusLine).toBe('HTTP/1.1 405 Method Not Allowed');
    expect(headers).toContain('content-type: application/problem+json');
    expect(headers).toMatch(/\r\nallow: \r\n/);
    expect(problem).toMatchObject({ type: 'about:blank', status: 405, detail: expect.stringContaining('this server is not a proxy') });
  });

  test('a transfer coding besides chunked: 415 naming it, and no job stored (gzip reached the JSON parser, any other was ignored and the body stored)', async ({ port, app }) => {
    const body = '{"model":"echo","prompt":"hi"}';
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    for (const coding of ['gzip, chunked', 'foo, chunked', 'identity, chunked']) {
      const { statusLine, headers, problem } = problemOf(await exchange(port, `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: ${coding}\r\nConnection: close\r\n\r\n${chunked}`));
      expect(statusLine, coding).toBe('HTTP/1.1 415 Unsupported Media Type');
      expect(headers).toContain('content-type: application/problem+json');
      expect(problem).toMatchObject({ type: '/problems/unsupported-media-type', detail: `Transfer-Encoding "${coding}" is not accepted: send the body uncompressed, with Transfer-Encoding: chunked alone or a Content-Length.` });
    }
    expect(await app.redis.hlen(app.jobs.keysOf('inference').queued)).toBe(0);
    const stored = await exchange(port, `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n${chunked}`);
    expect(stored.split('\r\n')[0]).toBe('HTTP/1.1 202 Accepted');
    expect(await app.redis.hlen(app.jobs.keysOf('inference').queued)).toBe(1);
  });

  test('the request target * : OPTIONS lists the server\'s methods, any other method is a 400 (they were a 405 naming "*" and the dashboard)', async ({ port }) => {
    const options = await exchange(port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(options.split('\r\n')[0]).toBe('HTTP/1.1 204 No Content');
    expect(options.toLowerCase()).toContain('\r\nallow: delete, get, head, options, post\r\n');
    for (const method of ['GET', 'POST', 'DELETE']) {
      const { statusLine, problem } = problemOf(await exchange(port, `${method} * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`));
      expect(statusLine, method).toBe('HTTP/1.1 400 Bad Request');
      expect(problem).toMatchObject({ type: '/problems/invalid-request', detail: expect.stringContaining('The request target "*" is for OPTIONS only') });
    }
  });

  test('bytes after a whole request: the request is answered first (its 202 was lost and the job stored anyway), then a 400 that says what Content-Length counts', async ({ port, app }) => {
    const body = '{"model":"echo","prompt":"hi"}';
    const post = `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const queued = app.jobs.keysOf('inference').queued;
    // Stray bytes after the body, and a pipelined second request with a bad header line.
    for (const [after, code] of [
      ['xx', 'HPE_INVALID_METHOD'],
      ['GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
    ] as const) {
      const before = await app.redis.hlen(queued);
      const [accepted, refused, ...more] = answersOf(await exchange(port, post + after));
      expect(accepted!.statusLine, after).toBe('HTTP/1.1 202 Accepted');
      const jobId = (accepted!.body as { job_id: string }).job_id;
      expect(await app.redis.hexists(queued, jobId)).toBe(1);
      expect(await app.redis.hlen(queued)).toBe(before + 1);
      expect(refused!.statusLine).toBe('HTTP/1.1 400 Bad Request');
      expect(refused!.headers).toContain('content-type: application/problem+json');
      expect(refused!.body).toMatchObject({ status: 400, detail: expect.stringContaining(code) });
      expect(more).toEqual([]);
    }
    const [, afterBody] = answersOf(await exchange(port, `${post}xx`));
    expect(afterBody!.body).toMatchObject({ detail: expect.stringContaining('bytes after the previous request on this connection are not an HTTP request') });
  });

  test('a request pipelined behind one whose answer closes the connection (a body that is not JSON, a chunked body over the limit) is not run; behind one that keeps it, it is answered', async ({ port, app }) => {
    const post = (body: string) => `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const job = (prompt: string) => post(JSON.stringify({ model: 'echo', prompt }));
    const big = JSON.stringify({ model: 'echo', prompt: 'z'.repeat(1_100_000) });
    const queued = app.jobs.keysOf('inference').queued;
    for (const [refused, status] of [
      [post('{"model":"echo",'), 'HTTP/1.1 400 Bad Request'],
      [post(''), 'HTTP/1.1 400 Bad Request'],
      [post('{"__proto__":{}}'), 'HTTP/1.1 400 Bad Request'],
      [`POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`, 'HTTP/1.1 413 Payload Too Large'],
    ] as const) {
      const before = await app.redis.hlen(queued);
      const answers = answersOf(await exchange(port, job('first') + refused + job('behind')));
      expect(answers.map((answer) => answer.statusLine), refused.slice(0, 80)).toEqual(['HTTP/1.1 202 Accepted', status]);
      expect(answers[1]!.headers).toContain('connection: close');
      // The first job only: the one behind the refusal was never answered, so it must not be stored.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await app.redis.hlen(queued), refused.slice(0, 80)).toBe(before + 1);
    }
    // A refusal that keeps the connection (an unknown model): the request behind it runs and is answered.
    const before = await app.redis.hlen(queued);
    const answers = answersOf(await exchange(port, job('first') + post('{"model":"nope","prompt":"x"}') + job('behind')));
    expect(answers.map((answer) => answer.statusLine)).toEqual(['HTTP/1.1 202 Accepted', 'HTTP/1.1 400 Bad Request', 'HTTP/1.1 202 Accepted']);
    expect(await app.redis.hlen(queued)).toBe(before + 2);
  });

  test('an upload refused at an early part reads the rest of its form: the next request on its connection is answered (it waited until the connection timed out)', async ({ port }) => {
    const upload = form([
      { name: 'file', filename: 'a.txt', content: 'hi' },
      { name: 'metadata', type: 'application/json', content: `${'['.repeat(1_000)}${']'.repeat(1_000)}` },
      // Text fields typed JSON are read as streams: each must be read through for the parser to go on.
      ...['priority', 'pipeline', 'max_attempts', 'timeout_ms'].map((name) => ({ name, type: 'application/json', content: JSON.stringify('x'.repeat(60_000)) })),
    ]);
    const head = `POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: ${upload.headers['content-type']}\r\nContent-Length: ${upload.payload.length}\r\n\r\n`;
    const refused = `${head}${upload.payload.toString('latin1')}`;
    const answers = answersOf(await exchange(port, `${refused}${refused}GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    expect(answers.map((answer) => answer.statusLine)).toEqual(['HTTP/1.1 400 Bad Request', 'HTTP/1.1 400 Bad Request', 'HTTP/1.1 200 OK']);
    expect(answers[0]!.body).toMatchObject({ detail: expect.stringMatching(/^body\.metadata: is declared as JSON .* more than 128 levels deep/) });
  });

  test('a page on an origin CORS_ORIGINS lists can read these problems too: the 431, 417 and 408 carry its CORS headers (the browser kept them from the page)', async ({ redisUrl, prefix }) => {
    const app = await buildTestApp(redisUrl, prefix, { CORS_ORIGINS: 'http://localhost:5173', REQUEST_TIMEOUT: '1s' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as { port: number }).port;
      const origin = 'Origin: http://localhost:5173\r\n';
      const tooLarge = problemOf(await exchange(port, `GET /models HTTP/1.1\r\nHost: x\r\n${origin}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
      const expectation = problemOf(await exchange(port, `POST /jobs HTTP/1.1\r\nHost: x\r\n${origin}Expect: 200-ok\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`));
      // A body that stops coming, on a connection left open.
      const cutShort = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(`POST /jobs HTTP/1.1\r\nHost: x\r\n${origin}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":`));
        let answer = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (answer += chunk));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
      const timedOut = problemOf(cutShort);
      for (const [answer, status] of [[tooLarge, 431], [expectation, 417], [timedOut, 408]] as const) {
        expect(answer.statusLine, String(status)).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
        expect(answer.headers, String(status)).toContain('access-control-allow-origin: http://localhost:5173\r\n');
      }
      // Another origin's page still gets none.
      expect(problemOf(await exchange(port, `GET /models HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).headers).not.toContain('access-control-allow-origin');
    } finally {
      await app.close();
    }
  });

  test('a request answered before its body arrived (a 415 kept open) whose body then stops is not answered a second time when it times out: the connection closes', async ({ redisUrl, prefix }) => {
    const app = await buildTestApp(redisUrl, prefix, { REQUEST_TIMEOUT: '1s' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as { port: number }).port;
      const received = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nten bytes.'));
        let answer = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (answer += chunk));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
      // It was a 415 and then a 408 on the same connection, which a keep-alive client takes as
      // the answer to its next request.
      expect(answersOf(received).map((answer) => answer.statusLine)).toEqual(['HTTP/1.1 415 Unsupported Media Type']);
    } finally {
      await app.close();
    }
  });

  test('answers given before any route are counted in conveyor_http_requests_total, as route "unrouted" (they were not counted at all)', async ({ port, app }) => {
    await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n');
    await exchange(port, `GET /models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await exchange(port, 'POST /jobs HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    await exchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    const metrics = (await app.inject({ url: '/metrics' })).body;
    for (const line of [
      'conveyor_http_requests_total{method="unknown",route="unrouted",status="400"} 1',
      'conveyor_http_requests_total{method="unknown",route="unrouted",status="431"} 1',
      'conveyor_http_requests_total{method="POST",route="unrouted",status="417"} 1',
      'conveyor_http_requests_total{method="CONNECT",route="unrouted",status="405"} 1',
    ]) {
      expect(metrics).toContain(line);
    }
  });

  test('fifteen uploads pipelined on one connection are each answered, and Node warns of no listener leak (each held a close listener on the connection)', async ({ port }) => {
    const upload = form([{ name: 'file', filename: 'a.txt', content: 'hello' }]);
    const one = `POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: ${upload.headers['content-type']}\r\nContent-Length: ${upload.payload.length}\r\n\r\n${upload.payload.toString('latin1')}`;
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const answers = answersOf(await exchange(port, `${one.repeat(15)}GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      expect(answers.map((answer) => answer.statusLine)).toEqual([...Array<string>(15).fill('HTTP/1.1 202 Accepted'), 'HTTP/1.1 200 OK']);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('framing mistakes get a 400 that names the mistake: no Content-Length, two of them, one with Transfer-Encoding, one that is no number, a body shorter than it says', async ({ port, app }) => {
    // Without Content-Length the body is empty; that answer closes the connection, and the body's
    // bytes are not read as a request.
    const [empty, ...rest] = answersOf(await exchange(port, 'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n{"model":"echo"}'));
    expect(empty).toMatchObject({ statusLine: 'HTTP/1.1 400 Bad Request', body: { detail: expect.stringContaining('The body is empty (a body sent with neither Content-Length nor Transfer-Encoding: chunked is read as none)') } });
    expect(rest).toEqual([]);
    // Content-Length counted in characters: "é" is two bytes, so the body's last byte is cut off.
    const accented = '{"model":"echo","prompt":"é"}';
    const [cut, ...after] = answersOf(await exchange(port, `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${accented.length}\r\n\r\n${accented}`));
    expect(cut).toMatchObject({ statusLine: 'HTTP/1.1 400 Bad Request', body: { detail: expect.stringContaining('The body ends before its JSON does: if it was cut short, Content-Length counts the body\'s bytes (in UTF-8), not its characters.') } });
    expect(after).toEqual([]);
    const [twice] = answersOf(await exchange(port, 'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}'));
    expect(twice!.body).toMatchObject({ status: 400, detail: expect.stringContaining('more than one Content-Length') });
    // Both framings, in either order: llhttp calls one a bad Content-Length, the other a bad Transfer-Encoding.
    for (const headers of ['Transfer-Encoding: chunked\r\nContent-Length: 2', 'Content-Length: 2\r\nTransfer-Encoding: chunked']) {
      const [both] = answersOf(await exchange(port, `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n\r\n{}`));
      expect(both!.body).toMatchObject({ status: 400, detail: expect.stringContaining('or both Content-Length and Transfer-Encoding: send one of them, once') });
    }
    const [wordy] = answersOf(await exchange(port, 'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: two\r\n\r\n{}'));
    expect(wordy!.body).toMatchObject({ status: 400, detail: expect.stringContaining('Content-Length is not a number of bytes') });
    const [short, ...none] = answersOf(await exchange(port, 'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"model":"echo"}'));
    expect(short!.body).toMatchObject({ status: 400, detail: expect.stringContaining('body is shorter than its Content-Length says') });
    expect(none).toEqual([]);
    const [unfinished] = answersOf(await exchange(port, 'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"model":"echo",'));
    expect(unfinished!.body).toMatchObject({ status: 400, detail: expect.stringContaining('or its chunked body ended before the last chunk (of length 0)') });
    expect(await app.redis.hlen(app.jobs.keysOf('inference').queued)).toBe(0);
  });

  test('HTTP/1.0 needs no Host', async ({ port }) => {
    const answer = await exchange(port, 'GET /healthz HTTP/1.0\r\n\r\n');
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
  });

  test('a well-formed request on the same server is still answered', async ({ port }) => {
    const answer = await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
  });
});
