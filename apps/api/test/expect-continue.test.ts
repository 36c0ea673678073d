import { keysUnder } from '@conveyor/testing';
import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, expect } from 'vitest';
import { testWithListeningApp } from './test-app.js';

const ADMIN_TOKEN = 'expect-continue-admin-token';

const test = testWithListeningApp({ MAX_DOCUMENT_BYTES: '64KiB', BODY_BUDGET: '1MiB', ADMIN_TOKEN });

const BOUNDARY = 'continue-boundary';
const FORM_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

function upload(content: string): string {
  return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n--${BOUNDARY}--\r\n`;
}

/**
 * Sends a request's head and none of its body, and reads what the API answers until it closes the
 * connection (`within` ms at most: an answer that waited for the body would never come).
 */
function headOnly(port: number, head: string, within = 2_000): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\n`));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve({ answer, ms: Date.now() - started }));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), within);
  });
}

/**
 * A request as a client that keeps to `Expect: 100-continue` sends it (Node's own): the body only
 * after a 100 Continue, never if the final answer comes first.
 */
function sendExpecting(port: number, path: string, headers: Record<string, string>, body: string): Promise<{ continued: boolean; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { ...headers, expect: '100-continue', 'content-length': String(Buffer.byteLength(body)) } });
    let continued = false;
    outgoing.on('continue', () => {
      continued = true;
      outgoing.end(body);
    });
    outgoing.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ continued, status: response.statusCode!, body: text }));
    });
    outgoing.on('error', reject);
    outgoing.flushHeaders();
  });
}

describe('Expect: 100-continue', () => {
  test('an upload whose Content-Length is past MAX_DOCUMENT_BYTES and the form\'s allowance is a 413 naming both, answered without a 100 Continue, and its connection closed', async ({ port, redis, prefix }) => {
    const before = await keysUnder(redis, prefix);
    const { answer, ms } = await headOnly(port, `POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM_TYPE}\r\nContent-Length: 500000000\r\nExpect: 100-continue\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    expect(answer).not.toContain('100 Continue');
    expect(answer.toLowerCase()).toContain('\r\nconnection: close\r\n');
    const problem = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    expect(problem).toMatchObject({
      type: '/problems/payload-too-large',
      detail: 'The upload is 500000000 bytes (its Content-Length); POST /documents takes at most 2162688: a file of up to 65536 bytes (MAX_DOCUMENT_BYTES) and 2097152 bytes for the rest of the form. Nothing was read or stored.',
    });
    // Closed at once by the API, not by headOnly giving up.
    expect(ms).toBeLessThan(1_500);
    expect(await keysUnder(redis, prefix)).toEqual(before);
  });

  test('such an upload is a 413 at once while another fills the body budget, not a 503 busy, nor a wait for a body that never comes', async ({ port }) => {
    // Let in (the first always is), its body held back: it holds the budget's whole 1 MiB.
    const held = connect(port, '127.0.0.1');
    held.on('error', () => {});
    held.write(`POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM_TYPE}\r\nContent-Length: 1048576\r\n\r\n--${BOUNDARY}\r\n`);
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const busy = await headOnly(port, `POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM_TYPE}\r\nContent-Length: 100000\r\n`, 500);
      expect(busy.answer).toMatch(/^HTTP\/1\.1 503 /);
      for (const expectation of ['', 'Expect: 100-continue\r\n']) {
        const { answer, ms } = await headOnly(port, `POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM_TYPE}\r\nContent-Length: 900000000\r\n${expectation}`);
        expect(answer, expectation).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
        expect(ms).toBeLessThan(1_500);
      }
    } finally {
      held.destroy();
    }
  });

  test('a body that is read gets its 100 Continue first, on every route that reads one, and is stored', async ({ port }) => {
    const json = { 'content-type': 'application/json' };
    const job = await sendExpecting(port, '/jobs', json, '{"model":"echo","prompt":"hi"}');
    expect(job).toMatchObject({ continued: true, status: 202 });
    const batch = await sendExpecting(port, '/jobs/batch', json, '{"jobs":[{"model":"echo","prompt":"one"},{"model":"echo","prompt":"two"}]}');
    expect(batch).toMatchObject({ continued: true, status: 202 });
    const document = await sendExpecting(port, '/documents', { 'content-type': FORM_TYPE }, upload('some text'));
    expect(document).toMatchObject({ continued: true, status: 202 });
    expect(JSON.parse(document.body)).toMatchObject({ job_id: expect.stringMatching(/^documents:/) });
    const broadcast = await sendExpecting(port, '/admin/broadcast', { ...json, authorization: `Bearer ${ADMIN_TOKEN}` }, '{"type":"reload-config"}');
    expect(broadcast).toMatchObject({ continued: true, status: 202 });
  });

  test('a request refused on its headers is answered without a 100 Continue, so its body is never sent', async ({ port }) => {
    const json = { 'content-type': 'application/json' };
    const refusals = [
      { path: '/jobs', headers: json, body: JSON.stringify({ model: 'echo', prompt: 'x'.repeat(1_100_000) }), status: 413 },
      { path: '/jobs', headers: { 'content-type': 'text/plain' }, body: 'hi', status: 415 },
      { path: '/admin/broadcast', headers: json, body: '{"type":"reload-config"}', status: 401 },
      { path: '/documents', headers: { 'content-type': FORM_TYPE }, body: upload('x'.repeat(2_200_000)), status: 413 },
    ];
    for (const { path, headers, body, status } of refusals) {
      const answer = await sendExpecting(port, path, headers, body);
      expect(answer, path).toMatchObject({ continued: false, status });
      expect(JSON.parse(answer.body), path).toMatchObject({ status });
    }
  });
});
