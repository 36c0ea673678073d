import { format } from 'node:util';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines for machines; readable colour output when a person watches a terminal.
 * The choice follows `process.stdout.isTTY`, not NODE_ENV.
 */
export function createLogger(name: string, level: string): Logger {
  const pretty = process.stdout.isTTY === true;
  return pino({
    name,
    level,
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  });
}

/**
 * Sends what libraries print with console to `logger`, so that every line the process writes is
 * JSON, as its own logs are: ioredis warns with console.warn ("[WARN] ... a password was
 * supplied") when REDIS_URL carries a password its Redis does not ask for.
 */
export function logConsoleTo(logger: Logger): void {
  console.warn = (...args: unknown[]) => logger.warn(format(...args));
  // Node prints its process warnings (MaxListenersExceededWarning ...) with console.error: a warning, not an error.
  console.error = (...args: unknown[]) => {
    const text = format(...args);
    if (/^\(node:\d+\) \w*Warning:/.test(text)) logger.warn(text);
    else logger.error(text);
  };
  console.info = console.log = (...args: unknown[]) => logger.info(format(...args));
}
