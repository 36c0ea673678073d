/**
 * What a failed Redis command says about whether to send it again, for the API (which answers
 * 503) and the worker (which keeps what it finished and sends it again).
 */

/**
 * Reply errors that mean "not now": the connection is fine, but Redis is out of memory, cannot
 * write its RDB snapshot or AOF (MISCONF: a full or failing disk), is loading, read-only after a
 * failover, busy with a script, or its cluster is mid-change. Redis refused the command, so nothing
 * was written, and the same command may succeed later. A script refused so wrote nothing either:
 * Redis refuses its first write, before any other.
 */
const refusedForNow = /^(OOM|MISCONF|LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;

export function isRefusedForNow(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError' && refusedForNow.test(error.message);
}

/** The connection failed: the command was not sent, or sent and not answered (see outcomeUnknown). */
export function isConnectionError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  return (
    /Stream isn't writeable|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|max retries|enableOfflineQueue|Reached the max retries|Too many Cluster redirections|Cluster is disconnected|None of startup nodes is available/i.test(
      error.message,
    ) || ['MaxRetriesPerRequestError', 'AbortError'].includes(error.name)
  );
}

/**
 * Sent but unanswered: a timeout, or a connection lost while the command was out. Redis may
 * still run it. On Redis Cluster, a command that went from node to node while its slot had no
 * reachable primary (a failover under way) is taken as unanswered too: one of its tries may have
 * reached a node that then died.
 */
export function outcomeUnknown(error: unknown): boolean {
  return isConnectionError(error) && !/enableOfflineQueue|Stream isn't writeable|ECONNREFUSED/.test(error.message);
}

/** Redis refused a command on a key that holds another kind of value (see findForeignKeys). */
export function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && /^WRONGTYPE\b/.test(error.message);
}

/** The explained cause of a connection to something that is not Redis (see explainConnectionError). */
const NOT_REDIS = /does not speak the Redis protocol/;

/**
 * ioredis's refusal of a command while its connection is down ("Stream isn't writeable and
 * enableOfflineQueue options is false"), or a write to a socket the other side already closed
 * (EPIPE): consequences that say nothing of why. Reported after the cause (a reply it could not
 * parse, a refused password), they must not take the cause's place. Nor, after something that is
 * not Redis (an HTTP server) answered, does the reset with which it meets a retry ("read
 * ECONNRESET", which /readyz then explained as a TLS port).
 */
function isFollowOnError(message: string, cause: string): boolean {
  if (/Stream isn't writeable|enableOfflineQueue|\bEPIPE\b/.test(message)) return true;
  return NOT_REDIS.test(cause) && /\bECONNRESET\b/.test(message);
}

/**
 * Why a connection is down, as its process reports it (/readyz, its log): each error explained for
 * REDIS_URL's user (see explainConnectionError, which needs to know whether the connection was
 * ever ready), the cause kept over the errors that only follow it (see isFollowOnError), and
 * cleared once the connection is ready.
 */
export class ConnectionCause {
  #everReady = false;
  #cause: string | undefined;

  constructor(private readonly redisUrl: string) {}

  /** Whether the connection has been ready at least once. */
  get everReady(): boolean {
    return this.#everReady;
  }

  /** The cause noted since the connection was last ready; undefined while it is. */
  get current(): string | undefined {
    return this.#cause;
  }

  /** Notes a connection error; returns it explained, or undefined when it only follows the cause already noted. */
  note(message: string): string | undefined {
    if (this.#cause !== undefined && isFollowOnError(message, this.#cause)) return undefined;
    this.#cause = explainConnectionError(message, this.redisUrl, this.#everReady);
    return this.#cause;
  }

  ready(): void {
    this.#everReady = true;
    this.#cause = undefined;
  }
}

/**
 * A command the Redis user in REDIS_URL may not run, or on keys or channels it may not use (ACLs):
 * NOPERM, or, from inside a script, "ERR The user executing the script can't ...".
 */
export function isPermissionRefusal(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && /^NOPERM\b|^ERR The user executing the script can't\b/.test(error.message);
}

/** Redis refusing the user and password of REDIS_URL (WRONGPASS), or asking for one it was not given (NOAUTH). */
export function isAuthRefusal(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && isAuthRefusalText(error.message);
}

/** Whether Redis's words (a connection's last error, as /readyz shows it) are a refusal of the login. */
export function isAuthRefusalText(message: string): boolean {
  return /^(WRONGPASS|NOAUTH)\b/.test(message);
}

/** What a Redis user needs for Conveyor under KEY_PREFIX `prefix`, as the README's ACL user has it. */
export function aclAdvice(prefix: string): string {
  return `give the Redis user in REDIS_URL Conveyor's keys and channels and the commands it uses, e.g. ACL SETUSER <user> '~${prefix}:*' '&${prefix}:*' +@all -@dangerous +info '+client|unblock' (README, Operations: Redis access)`;
}

/**
 * A connection error as `redisUrl`'s user should read it: a TLS client on a plain port waits out
 * its handshake (connect ETIMEDOUT), and a plain client on a TLS port is reset (ECONNRESET), and
 * neither says TLS. The likely mismatch is named, as a question, unless the connection was
 * `everReady`: a port that has answered as Redis speaks the protocol REDIS_URL says, and a reset
 * then is Redis going away (shut down, restarted). Something that is not Redis on that port (an
 * HTTP server answers "HTTP/1.1 ...") is named too, instead of the client's "Please report this".
 */
export function explainConnectionError(message: string, redisUrl: string, everReady = false): string {
  if (/Unknown RESP type|Protocol error/.test(message)) {
    return `${message.replace(/\s*Please report this\.?/, '')} (what answers on REDIS_URL's host and port does not speak the Redis protocol: is it a Redis server?)`;
  }
  if (everReady) return message;
  const tls = redisUrl.startsWith('rediss://');
  if (tls && /ETIMEDOUT|ECONNRESET|wrong version number|before secure TLS/.test(message)) {
    return `${message} (REDIS_URL is rediss://, so the connection speaks TLS: does that port serve TLS? A plain Redis takes redis://)`;
  }
  if (!tls && /ECONNRESET/.test(message)) return `${message} (if that port serves TLS, REDIS_URL takes rediss://)`;
  return message;
}
