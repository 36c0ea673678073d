import { QueueKeys } from '@conveyor/shared';
import { keysUnder } from '@conveyor/testing';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect } from 'vitest';
import { LINGER_BYTES, LINGER_MS } from '../src/lingering-close.js';
import { testWithListeningApp } from './test-app.js';

const run = promisify(execFile);

const test = testWithListeningApp();

/**
 * A client in a process of its own (in this one, the API and the client take turns on one event
 * loop, which hides the race): five times fetch, then five times node:http, each posting 20 MB,
 * far past MAX_BODY_BYTES (1 MiB), so refused on its Content-Length before it is read. Prints
 * what each saw: its status and problem type, or its error.
 */
const CLIENT = `
import { request } from 'node:http';
const [port] = process.argv.slice(1);
const body = Buffer.alloc(20_000_000, 'a');
const seen = [];
for (let i = 0; i < 5; i++) {
  try {
    const response = await fetch('http://127.0.0.1:' + port + '/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    seen.push('fetch ' + response.status + ' ' + (await response.json()).detail);
  } catch (error) {
    seen.push('fetch ' + (error.cause?.code ?? error.message));
  }
}
for (let i = 0; i < 5; i++) {
  seen.push(await new Promise((resolve) => {
    const outgoing = request({ host: '127.0.0.1', port, method: 'POST', path: '/jobs', agent: false, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve('http ' + response.statusCode + ' ' + JSON.parse(text).detail));
    });
    outgoing.on('error', (error) => resolve('http ' + error.code));
    outgoing.end(body);
  }));
}
console.log(JSON.stringify(seen));
`;

describe('a body refused before it is read', () => {
  test('is answered with its 413 problem to a client still sending it, with fetch and with node:http in another process, every time, and nothing is stored', async ({ port, redis, prefix }) => {
    const before = await keysUnder(redis, prefix);
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CLIENT, String(port)]);
    const answers = JSON.parse(stdout) as string[];
    // Before the connection read on after the answer, most of these were EPIPE: the answer was
    // thrown away with the reset that met the body still coming.
    const detail = 'The request body is larger than the limit of 1048576 bytes (MAX_BODY_BYTES).';
    expect(answers).toEqual([...Array.from({ length: 5 }, () => `fetch 413 ${detail}`), ...Array.from({ length: 5 }, () => `http 413 ${detail}`)]);
    expect(await keysUnder(redis, prefix)).toEqual(before);
    expect(await redis.xlen(new QueueKeys(prefix, 'inference').stream('infer', 'normal'))).toBe(0);
  });

  test('keeps its connection reading after the answer for at most LINGER_MS from a client that stops sending, then closes it', async ({ app, port }) => {
    // The client keeps its side open after the answer, as one that has not finished its body does.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.setEncoding('latin1');
    let answer = '';
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined);
    socket.write('POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n' + 'a'.repeat(1000));
    await new Promise((resolve) => socket.once('end', resolve));
    const answeredAt = Date.now();
    expect(answer).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    // Half-closed: what the client still sends is read, not answered with a reset.
    const connections = (): Promise<number> => new Promise((resolve, reject) => app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await new Promise<void>((resolve, reject) => socket.write('a'.repeat(1000), (error) => (error ? reject(error) : resolve())));
    expect(await connections()).toBe(1);
    let closedAfter = -1;
    while (Date.now() - answeredAt < LINGER_MS + 3_000) {
      if ((await connections()) === 0) {
        closedAfter = Date.now() - answeredAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    socket.destroy();
    expect(closedAfter).toBeGreaterThanOrEqual(LINGER_MS - 1_000);
    expect(closedAfter).toBeLessThan(LINGER_MS + 3_000);
  });

  test('stops reading after LINGER_BYTES of a body that keeps coming', async ({ port }) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('data', () => undefined);
    const head = 'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n';
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    const sent = await new Promise<number>((resolve) => {
      let written = 0;
      socket.on('error', () => resolve(written));
      socket.on('close', () => resolve(written));
      socket.write(head);
      const pump = (): void => {
        while (written < 4 * LINGER_BYTES) {
          written += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
        socket.end();
      };
      pump();
    });
    // The connection closed while the client was still sending: after the bytes it reads, and
    // far before the body's billion.
    expect(sent).toBeGreaterThanOrEqual(LINGER_BYTES);
    expect(sent).toBeLessThan(4 * LINGER_BYTES);
  });
});
