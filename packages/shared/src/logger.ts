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
