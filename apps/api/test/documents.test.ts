import { keysUnder, redisTest } from '@conveyor/testing';
import { describe, expect } from 'vitest';
import { form } from './multipart-form.js';
import { buildTestApp, testWithApp } from './test-app.js';

const test = testWithApp({ MAX_DOCUMENT_BYTES: '64KiB' });

/** The request with an Idempotency-Key. */
function withKey(request: ReturnType<typeof form>, key: string) {
  return { ...request, headers: { ...request.headers, 'idempotency-key': key } };
}

/** The request as sent to the API at `host` (the curl examples in problems name the address used). */
function withHost(request: ReturnType<typeof form>, host: string) {
  return { ...request, headers: { ...request.headers, host } };
}

describe('POST /documents', () => {
  test('stores the document with its job, binary-safe, and answers 202 with the job ID', async ({ app, redis, prefix }) => {
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x0d, 0x0a, 0x2d, 0x2d]);
    const upload = form([
      { name: 'file', filename: 'blob.bin', type: 'application/octet-stream', content: bytes },
      { name: 'priority', content: 'high' },
      { name: 'metadata', content: '{"user_id":"12345"}' },
    ]);
    const response = await app.inject({ method: 'POST', url: '/documents', ...upload });
    expect(response.statusCode).toBe(202);
    const { job_id } = response.json();
    expect(job_id).toMatch(/^documents:/);
    expect(response.headers['location']).toBe(`/jobs/${job_id}`);
    expect(await redis.hgetBuffer(`${prefix}:{documents}:job:${job_id}`, 'doc')).toEqual(bytes);
    const job = (await app.inject({ url: `/jobs/${job_id}` })).json();
    expect(job).toMatchObject({ status: 'queued', stage: 'extract', priority: 'high', input: { filename: 'blob.bin', size: 8, metadata: { user_id: '12345' } } });
    expect(JSON.stringify(job)).not.toContain('doc"');
  });

  test('an upload sent again with the same Idempotency-Key and its metadata in another key order is the same upload (200)', async ({ app }) => {
    const send = (metadata: string) =>
      app.inject({ method: 'POST', url: '/documents', ...withKey(form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', content: metadata }]), 'upload-1') });
    const first = await send('{"a":"1","b":"2"}');
    expect(first.statusCode).toBe(202);
    const again = await send('{"b":"2","a":"1"}');
    expect(again.statusCode).toBe(200);
    expect(again.json().job_id).toBe(first.json().job_id);
    expect((await send('{"b":"3","a":"1"}')).statusCode).toBe(422);
  });

  test('metadata sent as a text field typed application/json (curl -F \'metadata={...};type=application/json\') is taken as its JSON: it was read as "[object Object]" and refused', async ({ app }) => {
    const upload = form([
      { name: 'file', filename: 'a.txt', content: 'hi' },
      { name: 'metadata', type: 'application/json', content: '{"user_id":"12345"}' },
      { name: 'priority', type: 'application/json', content: '"high"' },
    ]);
    const response = await app.inject({ method: 'POST', url: '/documents', ...upload });
    expect(response.statusCode, response.body).toBe(202);
    expect((await app.inject({ url: `/jobs/${response.json().job_id}` })).json()).toMatchObject({ priority: 'high', input: { metadata: { user_id: '12345' } } });
  });

  test('a file name is kept as the client meant it: the %22 and %0A a browser writes for " and a line break are undone, a backslash is kept, a path dropped, and an emoji counts as one character', async ({ app }) => {
    const stored = async (sent: string) => {
      const response = await app.inject({ method: 'POST', url: '/documents', ...form([{ name: 'file', filename: sent, content: 'hi' }]) });
      expect(response.statusCode, `${sent}: ${response.body}`).toBe(202);
      return ((await app.inject({ url: `/jobs/${response.json().job_id}` })).json() as { input: { filename: string } }).input.filename;
    };
    // As Chromium sends `résumé "final".txt` and a name with a line break.
    expect(await stored('résumé %22final%22.txt')).toBe('résumé "final".txt');
    expect(await stored('two%0Alines.txt')).toBe('two\nlines.txt');
    // It was "slash.txt": the form parser took the name for a Windows path.
    expect(await stored('back\\slash.txt')).toBe('back\\slash.txt');
    expect(await stored('folder/notes.txt')).toBe('notes.txt');
    // A directory's name is none: the form parser dropped these, and so the default stands.
    expect(await stored('..')).toBe('upload');
    expect(await stored('folder/.')).toBe('upload');
    // Bytes typed as such, with no file name at all (curl -F 'file=<a.bin;type=application/octet-stream').
    const unnamed = await app.inject({ method: 'POST', url: '/documents', ...form([{ name: 'file', type: 'application/octet-stream', content: 'hi' }]) });
    expect(unnamed.statusCode, unnamed.body).toBe(202);
    expect(((await app.inject({ url: `/jobs/${unnamed.json().job_id}` })).json() as { input: { filename: string } }).input.filename).toBe('upload');
    // 134 characters, 264 UTF-16 units: it was refused as 264 characters, over 255.
    expect(await stored(`${'😀'.repeat(130)}.txt`)).toBe(`${'😀'.repeat(130)}.txt`);
    // As .NET's MultipartFormDataContent writes a name that is not ASCII (RFC 2047): it was stored as sent.
    expect(await stored('=?utf-8?B?w6nDqS50eHQ=?=')).toBe('éé.txt');
    expect(await stored('=?utf-8?B?csOpc3Vt?= =?UTF-8?Q?=C3=A9_final.txt?=')).toBe('résumé final.txt');
    // A word that is not UTF-8, or in another charset, stays as sent.
    expect(await stored('=?utf-8?B?gA==?=')).toBe('=?utf-8?B?gA==?=');
    expect(await stored('=?iso-8859-1?Q?caf=E9.txt?=')).toBe('=?iso-8859-1?Q?caf=E9.txt?=');
    // Nor one holding a NUL; and a "%22" inside a word is the name's own text, not a browser's quote.
    expect(await stored('=?utf-8?B?YQBiLnR4dA==?=')).toBe('=?utf-8?B?YQBiLnR4dA==?=');
    expect(await stored('=?utf-8?Q?a=2522b.txt?=')).toBe('a%22b.txt');
    // A control character sent raw is dropped (it was kept: "a\u0000b.txt"); a name of nothing else is none.
    expect(await stored('a\u0000b\u001f\u0085.txt')).toBe('ab.txt');
    expect(await stored('tab\tname.txt')).toBe('tab name.txt');
    expect(await stored('\u0000')).toBe('upload');
  });

  test('a text field typed JSON is read as JSON is: UTF-8 after a byte-order mark, a number as its value (`3.0` is 3); bytes that are not UTF-8 are refused, not garbled', async ({ app }) => {
    const upload = form([
      { name: 'file', filename: 'a.txt', content: 'hi' },
      // PowerShell writes a byte-order mark: it was "not valid JSON".
      { name: 'metadata', type: 'application/json', content: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"user_id":"é"}')]) },
      // It was "must be a whole number written in decimal digits".
      { name: 'max_attempts', type: 'application/json', content: '3.0\n' },
    ]);
    const response = await app.inject({ method: 'POST', url: '/documents', ...upload });
    expect(response.statusCode, response.body).toBe(202);
    expect((await app.inject({ url: `/jobs/${response.json().job_id}` })).json()).toMatchObject({ max_attempts: 3, input: { metadata: { user_id: 'é' } } });
    const latin1 = form([
      { name: 'file', filename: 'a.txt', content: 'hi' },
      { name: 'metadata', type: 'application/json', content: Buffer.from('{"user_id":"é"}', 'latin1') },
    ]);
    const refused = await app.inject({ method: 'POST', url: '/documents', ...latin1 });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().detail).toMatch(/^body\.metadata: is declared as JSON \(Content-Type: application\/json\) but is not UTF-8, as JSON is/);
  });

  test('an untyped text field is read as UTF-8 unless its part names a charset: Latin-1 bytes sent as they are are refused, not kept as U+FFFD; named as Latin-1 they are read', async ({ app, redis, prefix }) => {
    const before = (await keysUnder(redis, prefix)).length;
    for (const type of [undefined, 'text/plain']) {
      const garbled = form([
        { name: 'file', filename: 'a.txt', content: 'hi' },
        { name: 'metadata', ...(type ? { type } : {}), content: Buffer.from('{"note":"café"}', 'latin1') },
      ]);
      const refused = await app.inject({ method: 'POST', url: '/documents', ...garbled });
      expect(refused.statusCode, refused.body).toBe(400);
      expect(refused.json().detail).toMatch(/^body\.metadata: holds bytes that are not UTF-8 .*send it as UTF-8\. Of other charsets named on a part .* only ISO-8859-1 and UTF-16LE are read$/);
    }
    // The form parser reads other charsets as UTF-8 (refused as above), and windows-1252 as
    // Latin-1, which turns its € and curly quotes into C1 controls: refused, not kept changed.
    const named = (charset: string, bytes: Buffer) => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', type: `text/plain; charset=${charset}`, content: bytes }]);
    const shiftJis = await app.inject({ method: 'POST', url: '/documents', ...named('shift_jis', Buffer.from('7b226e6f7465223a2293fa967b227d', 'hex')) });
    expect(shiftJis.statusCode).toBe(400);
    expect(shiftJis.json().detail).toMatch(/only ISO-8859-1 and UTF-16LE are read$/);
    const windows1252 = await app.inject({ method: 'POST', url: '/documents', ...named('windows-1252', Buffer.from([...Buffer.from('{"note":"'), 0x80, 0x35, 0x20, 0x93, 0x71, 0x94, ...Buffer.from('"}')])) });
    expect(windows1252.statusCode).toBe(400);
    expect(windows1252.json().detail).toMatch(/^body\.metadata: holds control characters U\+0080 to U\+009F, which windows-1252 text/);
    expect((await keysUnder(redis, prefix)).length).toBe(before);
    const declared = form([
      { name: 'file', filename: 'a.txt', content: 'hi' },
      { name: 'metadata', type: 'text/plain; charset=ISO-8859-1', content: Buffer.from('{"note":"café"}', 'latin1') },
    ]);
    const taken = await app.inject({ method: 'POST', url: '/documents', ...declared });
    expect(taken.statusCode, taken.body).toBe(202);
    expect((await app.inject({ url: `/jobs/${taken.json().job_id}` })).json()).toMatchObject({ input: { metadata: { note: 'café' } } });
  });

  redisTest('with MAX_DOCUMENT_BYTES under 64 KiB, a text field typed JSON still holds up to 64 KiB, and the file no more than MAX_DOCUMENT_BYTES', async ({ redisUrl, prefix }) => {
    const app = await buildTestApp(redisUrl, prefix, { MAX_DOCUMENT_BYTES: '1KiB' });
    try {
      const metadata = JSON.stringify({ note: 'n'.repeat(900), more: 'm'.repeat(900) });
      const taken = await app.inject({ method: 'POST', url: '/documents', ...form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', type: 'application/json', content: metadata }]) });
      expect(taken.statusCode, taken.body).toBe(202);
      const tooLarge = await app.inject({ method: 'POST', url: '/documents', ...form([{ name: 'file', filename: 'a.txt', content: Buffer.alloc(2_000, 'a') }]) });
      expect(tooLarge.statusCode).toBe(413);
      expect(tooLarge.json().detail).toBe('The uploaded file is larger than the limit of 1024 bytes (MAX_DOCUMENT_BYTES).');
    } finally {
      await app.close();
    }
  });

  const refusals: { name: string; status: number; type: string; detail: RegExp; errors?: { path: string }[]; request: () => { payload: Buffer | string; headers: Record<string, string> } }[] = [
    { name: 'no file at all', status: 400, type: 'missing-file', detail: /No file in the field "file"\. Example: curl -F file=@report\.txt http:\/\/api\.example:8080\/documents$/, request: () => withHost(form([{ name: 'priority', content: 'high' }]), 'api.example:8080') },
    // curl -F file=hello (no @) sends the text "hello" as a field.
    { name: 'text in the field "file"', status: 400, type: 'missing-file', detail: /^No file in the field "file"\. The field "file" came as text, without a filename: send the file itself \(with curl, -F file=@path, with the @\)\./, request: () => form([{ name: 'file', content: 'hello' }]) },
    { name: 'a file in another field', status: 400, type: 'missing-file', detail: /came in the field "doc"; name the field "file"/, request: () => form([{ name: 'doc', filename: 'a.txt', content: 'hi' }]) },
    { name: 'an empty file', status: 400, type: 'empty-file', detail: /"empty\.txt" is empty \(0 bytes\)/, request: () => form([{ name: 'file', filename: 'empty.txt', content: '' }]) },
    { name: 'two files', status: 400, type: 'invalid-request', detail: /^Send one file per request, in the field named "file"; a second came in the field "file"\.$/, errors: [{ path: 'body.file' }], request: () => form([{ name: 'file', filename: 'a.txt', content: 'a' }, { name: 'file', filename: 'b.txt', content: 'b' }]) },
    { name: 'a second file in another field', status: 400, type: 'invalid-request', detail: /^Send one file per request, in the field named "file"; a second came in the field "doc"\.$/, errors: [{ path: 'body.doc' }], request: () => form([{ name: 'file', filename: 'a.txt', content: 'a' }, { name: 'doc', filename: 'b.txt', content: 'b' }]) },
    { name: 'a file in another field, then one in "file"', status: 400, type: 'invalid-request', detail: /^Send one file per request, in the field named "file"; this form has files in the fields "doc" and "file"\.$/, request: () => form([{ name: 'doc', filename: 'b.txt', content: 'b' }, { name: 'file', filename: 'a.txt', content: 'a' }]) },
    // curl -F metadata=@meta.json sends a file part; it was told to send one file per request.
    ...(['after', 'before'] as const).map((order) => ({
      name: `metadata sent as a file, ${order} the document`,
      status: 400,
      type: 'invalid-request',
      detail: /^body\.metadata: came as a file; send it, like every field but "file", as a text field: with curl, -F "metadata=<meta\.json" sends the file's content as text \(@ sends the file itself\)$/,
      request: () => {
        const parts = [{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', filename: 'meta.json', type: 'application/json', content: '{"user_id":"1"}' }];
        return form(order === 'after' ? parts : parts.reverse());
      },
    })),
    { name: 'a file over MAX_DOCUMENT_BYTES', status: 413, type: 'payload-too-large', detail: /^The uploaded file is larger than the limit of 65536 bytes \(MAX_DOCUMENT_BYTES\)\.$/, request: () => form([{ name: 'file', filename: 'big.txt', content: Buffer.alloc(70_000, 'a') }]) },
    { name: 'an unknown priority', status: 400, type: 'invalid-request', detail: /body\.priority/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'priority', content: 'asap' }]) },
    { name: 'metadata nested 30,000 levels deep (refused unread)', status: 400, type: 'invalid-request', detail: /^body\.metadata: must be a JSON object of string values/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', content: `{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}` }]) },
    { name: 'metadata that is not a JSON object of strings', status: 400, type: 'invalid-request', detail: /body\.metadata: must be a JSON object of string values/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', content: '[1]' }]) },
    // It is one: the limit passed is named (it was "must be a JSON object of string values").
    { name: 'a metadata value over 1,000 characters', status: 400, type: 'invalid-request', detail: /^body\.metadata: may have values of at most 1000 characters; the value of "note" has 1001$/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', content: JSON.stringify({ user_id: '1', note: 'n'.repeat(1_001) }) }]) },
    { name: 'a metadata key over 100 characters', status: 400, type: 'invalid-request', detail: /^body\.metadata: may have keys of at most 100 characters; "k{40}"\.\.\. has 101$/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', content: JSON.stringify({ ['k'.repeat(101)]: 'v' }) }]) },
    // As POST /jobs refuses them: a __proto__ key was dropped from the stored fields unseen, and any number of fields was taken.
    // The form parser's own answer was a 406 naming no field.
    { name: 'metadata typed application/json that is not JSON', status: 400, type: 'invalid-request', detail: /^body\.metadata: is declared as JSON \(Content-Type: application\/json\) but is not valid JSON/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', type: 'application/json', content: '{"user_id":' }]) },
    // Typed JSON, the parser parsed these as they came, before any check: 64 KiB of brackets held the event loop for 16–24 ms a field.
    { name: 'metadata typed application/json nested 30,000 levels deep (refused unparsed)', status: 400, type: 'invalid-request', detail: /^body\.metadata: is declared as JSON \(Content-Type: application\/json\) but nests arrays and objects more than 128 levels deep; no field of this form holds more than one object/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', type: 'application/json', content: `${'['.repeat(30_000)}${']'.repeat(30_000)}` }]) },
    { name: 'a field typed application/json holding 10,000 arrays', status: 400, type: 'invalid-request', detail: /^body\.priority: is declared as JSON \(Content-Type: application\/json\) but holds more than 1,000 objects and arrays/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'priority', type: 'application/json', content: `[${'[],'.repeat(9_999)}[]]` }]) },
    { name: 'metadata typed application/json over 64 KiB', status: 400, type: 'invalid-request', detail: /^body\.metadata: is longer than 64 KiB, the most a form field may hold$/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', type: 'application/json', content: JSON.stringify({ note: 'n'.repeat(70_000) }) }]) },
    { name: 'a field typed application/json given twice', status: 400, type: 'invalid-request', detail: /^body\.priority: is given more than once; send it once$/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'priority', type: 'application/json', content: '"high"' }, { name: 'priority', content: 'low' }]) },
    { name: 'seven fields typed application/json', status: 400, type: 'invalid-request', detail: /^The form has too many fields: it takes one file and at most \d+ text fields \(pipeline, priority, metadata, /, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, ...Array.from({ length: 7 }, (_, i) => ({ name: `f${i}`, type: 'application/json', content: '1' }))]) },
    { name: 'metadata with a __proto__ key', status: 400, type: 'invalid-request', detail: /body\.metadata: a "__proto__" key, or a "constructor" key holding "prototype", is refused/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', content: '{"user_id":"1","__proto__":"x"}' }]) },
    { name: 'metadata of 101 fields', status: 400, type: 'invalid-request', detail: /body\.metadata: may hold at most 100 fields/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', content: JSON.stringify(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v']))) }]) },
    // The form parser cut a field at 64 KiB and kept the last of a repeated one, both silently.
    { name: 'metadata over 64 KiB', status: 400, type: 'invalid-request', detail: /body\.metadata: is longer than 64 KiB, the most a form field may hold/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'metadata', content: JSON.stringify({ note: 'n'.repeat(70_000) }) }]) },
    // An 82 KB file name was kept with the job.
    { name: 'a file name over 255 characters', status: 400, type: 'invalid-request', detail: /^body\.file: has a file name of 256 characters; at most 255 are kept with the job: rename the file/, request: () => form([{ name: 'file', filename: `${'n'.repeat(252)}.txt`, content: 'hi' }]) },
    { name: 'a field given twice', status: 400, type: 'invalid-request', detail: /body\.priority: is given more than once; send it once/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'priority', content: 'high' }, { name: 'priority', content: 'low' }]) },
    { name: 'max_attempts in hex', status: 400, type: 'invalid-request', detail: /body\.max_attempts: must be a whole number written in decimal digits, from 1 to 100/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'max_attempts', content: '0x10' }]) },
    { name: 'an empty timeout_ms', status: 400, type: 'invalid-request', detail: /body\.timeout_ms: must be a whole number written in decimal digits, from 1 to 86400000/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'timeout_ms', content: '' }]) },
    { name: 'a queue of JSON jobs as the pipeline', status: 400, type: 'invalid-request', detail: /^Queue "inference" takes JSON jobs \(POST \/jobs\), not documents; these take documents: documents, document-summary\.$/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'pipeline', content: 'inference' }]) },
    { name: 'an unknown pipeline', status: 400, type: 'invalid-request', detail: /^There is no pipeline "nope"; these take documents: documents, document-summary\.$/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'pipeline', content: 'nope' }]) },
    // No QUEUE_PARTITIONS here: it was told to send to "documents" and let the API spread jobs over partitions.
    { name: 'a partition\'s name as the pipeline, on an API without partitions', status: 400, type: 'invalid-request', detail: /^There is no pipeline "documents\.0"; these take documents: documents/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'pipeline', content: 'documents.0' }]) },
    { name: 'an unknown field', status: 400, type: 'invalid-request', detail: /^body: has a field it does not take: "colour"; the form's fields are file, pipeline, priority, metadata, max_attempts, timeout_ms$/, request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'colour', content: 'red' }]) },
    // The form parser refuses these names itself, in words that named no field.
    ...['toString', 'hasOwnProperty', 'constructor', '__proto__'].flatMap((name) =>
      [false, true].map((asFile) => ({
        name: `a ${asFile ? 'file' : 'field'} named ${name}`,
        status: 400,
        type: 'invalid-request',
        detail: new RegExp(`^body\\.${name}: is not a field this form takes; the form's fields are file, pipeline, priority, metadata, max_attempts, timeout_ms$`),
        request: () => form([asFile ? { name, filename: 'x.txt', content: 'x' } : { name, content: 'x' }, { name: 'file', filename: 'a.txt', content: 'hi' }]),
      })),
    ),
    { name: 'a JSON body', status: 415, type: 'unsupported-media-type', detail: /takes multipart\/form-data, not "application\/json"/, request: () => ({ payload: '{"file":"x"}', headers: { 'content-type': 'application/json' } }) },
    { name: 'a form without a boundary', status: 400, type: 'malformed-form', detail: /could not be read \(Multipart: Boundary not found\)/, request: () => ({ payload: form([{ name: 'file', filename: 'a.txt', content: 'hi' }]).payload, headers: { 'content-type': 'multipart/form-data' } }) },
    { name: 'a form cut short', status: 400, type: 'malformed-form', detail: /could not be read \(it ended before the form did: the boundary in Content-Type is not the one the body uses, or the body was cut short\)/, request: () => ({ ...form([]), payload: form([{ name: 'file', filename: 'a.txt', content: 'hello world' }]).payload.subarray(0, 90) }) },
    {
      name: 'a form whose boundary is not the one Content-Type names',
      status: 400,
      type: 'malformed-form',
      detail: /the boundary in Content-Type is not the one the body uses/,
      request: () => ({ payload: form([{ name: 'file', filename: 'a.txt', content: 'hi' }]).payload, headers: { 'content-type': 'multipart/form-data; boundary=another-boundary' } }),
    },
    {
      name: 'the file, and a text field named file too',
      status: 400,
      type: 'invalid-request',
      detail: /^body\.file: came twice, as the file and as a text field; send the file alone$/,
      request: () => form([{ name: 'file', filename: 'a.txt', content: 'hi' }, { name: 'file', content: 'text' }]),
    },
    { name: 'a body that is not the form its boundary says', status: 400, type: 'malformed-form', detail: /could not be read/, request: () => ({ ...form([]), payload: 'garbage' }) },
    { name: 'a boundary over 250 characters', status: 400, type: 'malformed-form', detail: /boundary is longer than 70 characters/, request: () => ({ payload: form([]).payload, headers: { 'content-type': `multipart/form-data; boundary=${'b'.repeat(300)}` } }) },
    { name: 'a part without a name', status: 400, type: 'malformed-form', detail: /has no name: its Content-Disposition header needs one/, request: () => ({ ...form([]), payload: Buffer.concat([Buffer.from('------conveyor-test-boundary\r\nContent-Disposition: form-data\r\n\r\nhigh\r\n'), form([{ name: 'file', filename: 'a.txt', content: 'hi' }]).payload]) }) },
    { name: 'a raw binary body', status: 415, type: 'unsupported-media-type', detail: /application\/pdf/, request: () => ({ payload: Buffer.from('%PDF-1.4'), headers: { 'content-type': 'application/pdf' } }) },
  ];

  for (const { name, status, type, detail, errors, request } of refusals) {
    test(`${name}: ${status} ${type}, nothing written`, async ({ app, redis, prefix }) => {
      const before = await keysUnder(redis, prefix);
      const response = await app.inject({ method: 'POST', url: '/documents', ...request() });
      expect(response.statusCode).toBe(status);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ type: `/problems/${type}`, status });
      expect(response.json().detail).toMatch(detail);
      if (errors) expect(response.json().errors).toMatchObject(errors);
      expect(await keysUnder(redis, prefix)).toEqual(before);
    });
  }
});
