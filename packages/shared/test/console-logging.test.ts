import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const shared = fileURLToPath(new URL('../dist/index.js', import.meta.url));

test('what libraries print with console, and Node\'s process warnings, are JSON log lines at their level (ioredis\'s "[WARN] ..." was a text line)', () => {
  const script = `
    const { createLogger, logConsoleTo } = await import(${JSON.stringify(shared)});
    logConsoleTo(createLogger('api', 'info'));
    console.warn('[WARN] a password was supplied');
    console.error('a library failed', 42);
    console.log('said');
    process.emitWarning('11 close listeners', 'MaxListenersExceededWarning');
    setTimeout(() => {}, 50);
  `;
  // Not a terminal: JSON lines, as in production.
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = output.trim().split('\n').map((line) => JSON.parse(line) as { level: number; msg: string });
  expect(lines.map(({ level, msg }) => [level, msg.split('\n')[0]])).toEqual([
    [40, '[WARN] a password was supplied'],
    [50, 'a library failed 42'],
    [30, 'said'],
    [40, expect.stringMatching(/^\(node:\d+\) MaxListenersExceededWarning: 11 close listeners$/)],
  ]);
});
