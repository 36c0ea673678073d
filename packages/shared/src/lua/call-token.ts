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

/** The lease of a caller that names none: the default LEASE_MS. */
const DEFAULT_LEASE_MS = 30_000;

/**
 * How long Redis keeps what a call did, for the same call sent again: the caller's lease, and
 * a minute more. The call is sent again only once Redis answers again, and a Redis that ran it
 * just before it froze (a paused VM, a stopped process) runs nothing while frozen but has its
 * keys expire all the same: kept for the lease alone, the record of a call that ran just before a
 * freeze longer than the lease was gone when the call came again (its jobs then waited out a
 * lease, unheld). About 170 bytes per call and 30 per job it took or finished: at a 40k jobs/s
 * drain each second kept costs Redis about 1.3 MB, so not much longer. After a freeze longer than this, a
 * call sent again runs anew: the first run's jobs wait out a lease, as before, and none is lost.
 */
export function keepCallMs(leaseMs = DEFAULT_LEASE_MS): number {
  return leaseMs + 60_000;
}
