/** A multipart body as curl -F builds it (a text field with a `type`, as `-F 'name=value;type=...'` sends it). */
export function form(parts: { name: string; filename?: string; type?: string; content: string | Buffer }[]) {
  const boundary = '----conveyor-test-boundary';
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}`;
    const header = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.filename === undefined && part.type === undefined ? '' : `Content-Type: ${part.type ?? 'text/plain'}\r\n`}\r\n`;
    chunks.push(Buffer.from(header), Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
