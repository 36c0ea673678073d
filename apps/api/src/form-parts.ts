/** A part of a multipart form as the parser met it. */
export interface FormPart {
  name: string;
  filename: string | undefined;
  file: boolean;
}

/**
 * Whether a part is a text field typed JSON (curl -F 'metadata={...};type=application/json'),
 * which the parser would parse itself: with JSON.parse, as it arrives, on the event loop. 64 KiB
 * of brackets cost it 16–24 ms, for each of up to 20 fields.
 */
export function isJsonText(contentType: string | undefined, filename: string | undefined): boolean {
  return filename === undefined && contentType !== undefined && contentType.startsWith('application/json');
}

/**
 * A form's parts as the parser (@fastify/multipart, on busboy) met them, before it refused any.
 * Some of its refusals name no field: a file past its limit ("reach files limit") and a field
 * named like a property of every object, `toString` or `__proto__` ("prototype property is not
 * allowed as field name"). Its isPartAFile option is asked about every part, those included, so
 * it is where their names are seen.
 */
export class FormParts {
  readonly #parts: FormPart[] = [];

  /**
   * The parser's isPartAFile, answering with its own rule (a file name, or bytes typed as such),
   * and with yes for a text field typed JSON too: such a field is then read as a stream, by the
   * route, instead of parsed by the parser as it arrives, before any check of the route's own.
   */
  readonly isPartAFile = (name: string | undefined, contentType: string | undefined, filename: string | undefined): boolean => {
    const file = contentType === 'application/octet-stream' || filename !== undefined;
    if (name !== undefined) this.#parts.push({ name, filename, file });
    return file || isJsonText(contentType, filename);
  };

  /** The first part named like a property of Object.prototype, which the parser refuses. */
  get prototypeNamed(): FormPart | undefined {
    return this.#parts.find((part) => part.name in Object.prototype);
  }

  /** The file parts, in order (text fields typed JSON are not files, though read as streams). */
  get files(): FormPart[] {
    return this.#parts.filter((part) => part.file);
  }
}
