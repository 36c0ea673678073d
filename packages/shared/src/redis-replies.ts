import { groupName } from './keys.js';

/** A Redis reply of alternating names and values (HGETALL-style, XINFO, a stream entry), as an object. */
export function pairsOf(flat: readonly unknown[]): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) map[String(flat[i])] = flat[i + 1];
  return map;
}

/** A stream entry's (or a hash's) fields, as an object. */
export function fieldsOf(flat: readonly string[]): Record<string, string> {
  return pairsOf(flat) as Record<string, string>;
}

/** A stage's consumer group in an XINFO GROUPS reply (name, consumers, pending, last-delivered-id, lag...); undefined when absent. */
export function stageGroup(groups: readonly unknown[], stage: string): Record<string, unknown> | undefined {
  return (groups as unknown[][]).map(pairsOf).find((group) => group['name'] === groupName(stage));
}
