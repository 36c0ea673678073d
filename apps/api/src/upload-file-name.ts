/**
 * The name of an uploaded file as its client meant it. Browsers (the HTML standard's form
 * encoding) and curl write `"` as %22 and line breaks as %0A and %0D in a part's filename: these
 * are undone (a name that holds "%22" itself cannot be told apart, and is the rarer). A path sent
 * with the name keeps only what follows its last `/`; a backslash is a character of a name on
 * most systems, and is kept (the form parser took it for a Windows path, and dropped all before it).
 * A name in RFC 2047 encoded words is read as its text (see decodedWords).
 */
export function uploadFileName(sent: string): string {
  const whole = decodedWords(sent);
  const name = whole.slice(whole.lastIndexOf('/') + 1);
  // A directory's name is no file's (the parser dropped these too): the job's default name stands.
  if (name === '.' || name === '..') return '';
  // A browser's escapes are in the name as sent; in encoded words, a "%22" is the text's own.
  if (whole !== sent) return name;
  // A control character sent raw (a NUL) is no part of any file's name, and a store downstream
  // may refuse it: dropped, but for a tab, which parts words (a space).
  return name
    .replace(/\t/g, ' ')
    .replace(CONTROL_CHARACTERS, '')
    .replace(/%(22|0A|0D)/gi, (_, code: string) => String.fromCharCode(Number.parseInt(code, 16)));
}

/** The control characters a name does not keep, C0 and C1: all but the line breaks a browser writes as %0A and %0D. */
const CONTROL_CHARACTERS = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

/** One RFC 2047 encoded word in UTF-8: `=?utf-8?B?<base64>?=` or `=?utf-8?Q?<quoted>?=`. */
const ENCODED_WORD = /=\?utf-8\?([BQ])\?([^?\s]*)\?=/gi;

/**
 * A name written as RFC 2047 encoded words, as .NET's MultipartFormDataContent writes a name
 * that is not ASCII in `filename` (`=?utf-8?B?w6nDqS50eHQ=?=` for `éé.txt`), is read as its
 * text. Its `filename*` (RFC 5987) says the same, but the form parser keeps whichever of the
 * two came last. Only UTF-8 words are read; anything else stays as sent.
 */
function decodedWords(name: string): string {
  if (!name.includes('=?')) return name;
  // Whitespace between two encoded words is not part of the text (RFC 2047 §6.2): a long name is several words.
  return name.replace(/\?=\s+(?==\?)/g, '?=').replace(ENCODED_WORD, (word, coding: string, text: string) => {
    const bytes = coding.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))), 'latin1');
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      // A control character no header could carry as such (a NUL) is not taken from a word either.
      return text.search(CONTROL_CHARACTERS) === -1 ? text : word;
    } catch {
      return word;
    }
  });
}

