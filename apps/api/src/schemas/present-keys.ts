import type { z } from 'zod';

/** Most sets of keys a parser keeps a schema for; values with others go to the whole schema. */
const MAX_KEY_SETS = 256;

/**
 * Parses values against a strict zod object schema by the keys each value has. zod runs every
 * field of an object schema on every parse, absent ones too (a payload object and an issues array
 * each): a job that sets 4 of its 13 fields paid for all 13, about 2 KB of garbage per job, and a
 * fifth of the API's time on a batch of 1,000 went to collecting it.
 *
 * For each set of keys seen, this keeps the schema picked down to those keys and to the ones that
 * are required or have a default, with the whole schema's object-level rules (`finish`) applied
 * again; its output is the whole schema's, key order included (zod writes keys in shape order).
 * It answers only for values it can take: one with a key the schema does not have, one past
 * MAX_KEY_SETS sets, or one the picked schema refuses gets `undefined`, and the caller parses
 * it with the whole schema, whose errors are the ones reported.
 */
export class PresentKeysParser {
  readonly #object: z.ZodObject;
  readonly #finish: (picked: z.ZodObject) => z.ZodType;
  /** Each key of the shape and its bit in a set of keys. */
  readonly #bits = new Map<string, number>();
  /** The keys every picked schema has: absent, they are refused (required) or filled in (a default). */
  readonly #alwaysPicked: number;
  readonly #picked = new Map<number, z.ZodType>();

  constructor(object: z.ZodObject, finish: (picked: z.ZodObject) => z.ZodType) {
    const keys = Object.keys(object.shape);
    if (keys.length > 31) throw new Error(`PresentKeysParser takes at most 31 keys; this shape has ${keys.length}`);
    this.#object = object;
    this.#finish = finish;
    let always = 0;
    keys.forEach((key, i) => {
      this.#bits.set(key, 1 << i);
      const absent = (object.shape[key] as z.ZodType).safeParse(undefined);
      if (!absent.success || absent.data !== undefined) always |= 1 << i;
    });
    this.#alwaysPicked = always;
  }

  /** The whole schema's output for `value`, or undefined when the whole schema must parse it. */
  tryParse(value: unknown): unknown {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    let set = this.#alwaysPicked;
    for (const key in value) {
      const bit = this.#bits.get(key);
      if (bit === undefined) return undefined;
      set |= bit;
    }
    const schema = this.#schemaFor(set);
    if (schema === undefined) return undefined;
    const result = schema.safeParse(value);
    return result.success ? result.data : undefined;
  }

  #schemaFor(set: number): z.ZodType | undefined {
    let schema = this.#picked.get(set);
    if (schema === undefined && this.#picked.size < MAX_KEY_SETS) {
      const mask: Record<string, true> = {};
      for (const [key, bit] of this.#bits) if (set & bit) mask[key] = true;
      schema = this.#finish(this.#object.pick(mask));
      this.#picked.set(set, schema);
    }
    return schema;
  }
}
