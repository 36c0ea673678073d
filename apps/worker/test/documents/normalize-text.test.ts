import { describe, expect, test } from 'vitest';
import { normalizeText } from '../../src/documents/normalize-text.js';

/** The rule as a regular expression, as it was first written: right, but quadratic on runs of spaces. */
function byRegex(text: string): string {
  return text
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .replace(/[\u00a0\t\f\v ]+$/gm, '')
    .replace(/\u00a0/g, ' ')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

describe('normalizeText', () => {
  test('gives what the regular-expression rule gives, on 2,000 random short texts', () => {
    const alphabet = ['a', 'é', 'e\u0301', ' ', '\t', '\f', '\v', '\u00a0', '\n', '\r', '\r\n', 'x'];
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2_000; i += 1) {
      const text = Array.from({ length: Math.floor(next() * 30) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
      expect(normalizeText(text), JSON.stringify(text)).toBe(byRegex(text));
    }
  });

  test('takes linear time: 2 MB of spaces, tabs and no-break spaces before one letter', () => {
    const text = `${' \t\u00a0'.repeat(700_000)}x\n${' '.repeat(1_000_000)}y `;
    const started = performance.now();
    expect(normalizeText(text)).toBe(`x\n${' '.repeat(1_000_000)}y`);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
