/**
 * Bytes as text, when they are text: UTF-8 (with or without a byte-order mark) or UTF-16 with
 * a byte-order mark. Undefined for anything else: invalid UTF-8, NUL bytes, or more control
 * characters than text ever has.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
// Tab, line feed, form feed and carriage return are text; other C0 controls are a sign of binary.
const CONTROL = /[\u0001-\u0008\u000b\u000e-\u001f\u007f]/g;
const MAX_CONTROL_SHARE = 0.01;

export function decodeText(bytes: Buffer): string | undefined {
  let text: string;
  try {
    if (bytes[0] === 0xff && bytes[1] === 0xfe) text = new TextDecoder('utf-16le', { fatal: true }).decode(bytes);
    else if (bytes[0] === 0xfe && bytes[1] === 0xff) text = new TextDecoder('utf-16be', { fatal: true }).decode(bytes);
    else if (bytes.includes(0)) return undefined;
    else text = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  text = text.replace(/^\uFEFF/, '');
  if (text.includes('\u0000')) return undefined;
  const controls = text.match(CONTROL)?.length ?? 0;
  return controls > text.length * MAX_CONTROL_SHARE ? undefined : text;
}
