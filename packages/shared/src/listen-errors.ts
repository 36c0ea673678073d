/** What a listener is and which settings choose its port and address, for its refusals. */
export interface Listener {
  /** e.g. "the API", "the worker's health listener (/healthz, /readyz, /metrics)". */
  what: string;
  port: number;
  host: string;
  portSetting: string;
  hostSetting: string;
  /** Ways out besides another port, e.g. "to 0 for any free one". */
  otherPorts?: string;
}

/**
 * A listener that could not listen, explained by the setting to change: Node's bare
 * "listen EADDRINUSE" or "getaddrinfo ENOTFOUND" names neither. The code stays Node's.
 */
export class ListenError extends Error {
  constructor(
    readonly code: string,
    message: string,
    cause: Error,
  ) {
    super(message, { cause });
    this.name = 'ListenError';
  }
}

/** `error` (from `listen`) as the setting that caused it; an error of another kind is returned as it is. */
export function explainListenError(error: NodeJS.ErrnoException, listener: Listener): Error {
  const { what, port, host, portSetting, hostSetting } = listener;
  const otherPorts = listener.otherPorts ? `, ${listener.otherPorts}` : '';
  switch (error.code) {
    case 'EADDRINUSE':
      return new ListenError(error.code, `${portSetting} ${port} is taken on ${host} (another program listens there), so ${what} cannot listen: set ${portSetting} to a free port${otherPorts}`, error);
    case 'EACCES':
      return new ListenError(error.code, `${portSetting} ${port} needs privileges this process does not have (ports below 1024), so ${what} cannot listen: set ${portSetting} to 1024 or above${otherPorts}`, error);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
      return new ListenError(
        error.code,
        `${hostSetting} ${host} is not an address of this machine (${error.code}), so ${what} cannot listen: set ${hostSetting} to one of its addresses, 0.0.0.0 for all of them or 127.0.0.1 for this machine only`,
        error,
      );
    default:
      return error;
  }
}
