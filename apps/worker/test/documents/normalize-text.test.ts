import { describe, expect, test } from 'vitest';
import { normalizeText } from '../../src/documents/normalize-text.js';
import { longestTurnGap } from '../event-loop-gap.js';

/** The rule as a regular expression, as it was first written: right, but quadratic on runs of spaces. */
function byRegex(text: string): string {
  return text
    .replace(/\u0000/g, '')
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .replace(/[\u00a0\t\f\v ]+$/gm, '')
    .replace(/\u00a0/g, ' ')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

describe('normalizeText', () => {
  test('gives what the regular-expression rule gives, on 2,000 random short texts', async () => {
    const alphabet = ['a', 'é', 'e\u0301', ' ', '\t', '\f', '\v', '\u00a0', '\n', '\r', '\r\n', 'x', '\u0000'];
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2_000; i += 1) {
      const text = Array.from({ length: Math.floor(next() * 30) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
      expect(await normalizeText(text), JSON.stringify(text)).toBe(byRegex(text));
    }
    // A PDF glyph without a Unicode mapping reads as NUL: dropped, and a space before it is a trailing one.
    expect(await normalizeText('Русский, \u0000\u0000.\nnext \u0000\n')).toBe('Русский, .\nnext');
  });

  test('gives what the rule gives on a long text, normalized a window of lines at a time, with the event loop free meanwhile', async () => {
    // Line ends of every kind, and blank-line runs, fall on the windows' edges somewhere in 10 MB.
    const alphabet = ['word ', 'é', 'e\u0301', '  ', '\t', '\u00a0', '\n', '\n\n\n', '\r', '\r\n', '\r\n\r\n'];
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const text = Array.from({ length: 5_000_000 }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    expect(text.length).toBeGreaterThan(10_000_000);
    const { gapMs, outcome } = await longestTurnGap(() => normalizeText(text));
    expect(outcome).toEqual({ status: 'fulfilled', value: byRegex(text) });
    expect(gapMs).toBeLessThan(150);
    // Blank lines and spaces filling whole windows at either end, and between two words.
    const padded = `${'\n \r\n\t\n'.repeat(40_000)}x${'\n\n\n\n'.repeat(40_000)}y${' \n\u00a0\n'.repeat(40_000)}`;
    expect(await normalizeText(padded)).toBe('x\n\ny');
    expect(byRegex(padded)).toBe('x\n\ny');
  });

  test('takes linear time: 2 MB of spaces, tabs and no-break spaces before one letter', async () => {
    const text = `${' \t\u00a0'.repeat(700_000)}x\n${' '.repeat(1_000_000)}y `;
    const started = performance.now();
    expect(await normalizeText(text)).toBe(`x\n${' '.repeat(1_000_000)}y`);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
