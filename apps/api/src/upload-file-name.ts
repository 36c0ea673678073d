/**
 * The name of an uploaded file as its client meant it. Browsers (the HTML standard's form
 * encoding) and curl write `"` as %22 and line breaks as %0A and %0D in a part's filename: these
 * are undone (a name that holds "%22" itself cannot be told apart, and is the rarer). A path sent
 * with the name keeps only what follows its last `/`; a backslash is a character of a name on
 * most systems, and is kept (the form parser took it for a Windows path, and dropped all before it).
 */
export function uploadFileName(sent: string): string {
  const name = sent.slice(sent.lastIndexOf('/') + 1);
  // A directory's name is no file's (the parser dropped these too): the job's default name stands.
  if (name === '.' || name === '..') return '';
  return name.replace(/%(22|0A|0D)/gi, (_, code: string) => String.fromCharCode(Number.parseInt(code, 16)));
}

