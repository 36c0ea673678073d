import { randomBytes } from 'node:crypto';

/**
 * The token of one script call that takes jobs or records outcomes, by which Redis tells the
 * same call sent twice (a reply lost with its connection, the call sent again on the next one)
 * from two calls: see includes/repeatedCall.lua. A random part per process, then a count: a
 * worker restarted under the same consumer name does not reuse its predecessor's tokens.
 */
const processPart = randomBytes(9).toString('base64url');
let calls = 0;

export function callToken(): string {
  calls += 1;
  return processPart + calls.toString(36);
}

/** How long Redis keeps what a call did, for the same call sent again, when the caller names no lease: the default LEASE_MS. */
export const DEFAULT_KEEP_MS = 30_000;
