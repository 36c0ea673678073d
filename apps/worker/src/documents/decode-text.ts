/**
 * Bytes as text, when they are text: UTF-8 (with or without a byte-order mark), UTF-16 with a
 * byte-order mark, or, when the bytes are not UTF-8, the charset an HTML or XML document declares
 * for itself (Shift-JIS, GBK, KOI8-R, ...), else Windows-1252 (the encoding of text saved by
 * older Windows and Western European tools; ISO-8859-1 is a subset). Undefined for anything
 * else: NUL bytes, or more control characters than text ever has.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
// Tab, line feed, form feed and carriage return are text; other C0 controls, and the C1 controls
// (bytes Windows-1252 leaves undefined), are a sign of binary.
const CONTROL = /[\u0001-\u0008\u000b\u000e-\u001f\u007f-\u009f]/g;
const MAX_CONTROL_SHARE = 0.01;

/**
 * Windows-1252's characters for bytes 0x80 to 0x9F; the other bytes are ISO-8859-1's (their own
 * code points). Node's TextDecoder decodes the `windows-1252` label as ISO-8859-1, so this is done here.
 */
const WINDOWS_1252_80_9F = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';

export function decodeText(bytes: Buffer): string | undefined {
  const text = decode(bytes)?.replace(/^\uFEFF/, '');
  if (text === undefined || text.includes('\u0000')) return undefined;
  const controls = text.match(CONTROL)?.length ?? 0;
  return controls > text.length * MAX_CONTROL_SHARE ? undefined : text;
}

function decode(bytes: Buffer): string | undefined {
  try {
    if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le', { fatal: true }).decode(bytes);
    if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  if (bytes.includes(0)) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    const declared = declaredText(bytes);
    if (declared !== undefined) return declared;
    return bytes.toString('latin1').replace(/[\u0080-\u009f]/g, (c) => WINDOWS_1252_80_9F[c.charCodeAt(0) - 0x80]!);
  }
}

/**
 * Where the HTML standard's prescan looks for a page's charset, in its first 1,024 bytes: `<meta
 * charset>`, `<meta http-equiv="Content-Type" content="...; charset=...">`; and an XML
 * declaration's `encoding`.
 */
const DECLARED_CHARSET = /<meta\b[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)|<\?xml\b[^>]*?encoding\s*=\s*["']([\w.:-]+)/i;

/**
 * The bytes in the charset they declare, when that is one TextDecoder knows and they are valid
 * in it. Windows-1252 and its aliases are left to the caller, whose table has the characters
 * TextDecoder reads as ISO-8859-1's controls.
 */
function declaredText(bytes: Buffer): string | undefined {
  const found = DECLARED_CHARSET.exec(bytes.subarray(0, 1024).toString('latin1'));
  const label = found?.[1] ?? found?.[2];
  if (label === undefined) return undefined;
  try {
    const decoder = new TextDecoder(label, { fatal: true });
    return decoder.encoding === 'windows-1252' || decoder.encoding === 'utf-8' ? undefined : decoder.decode(bytes);
  } catch {
    // A charset it does not know, or bytes not valid in it.
    return undefined;
  }
}
