/** The benchmark's JavaScript SHA-256 agrees with node:crypto on every padding boundary and on UTF-8. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/harness/scenarios/transforms/sha256.js';

const reference = (text: string) => createHash('sha256').update(text).digest('hex');

describe('sha256Hex', () => {
  it('matches node:crypto for lengths 0–200, across every block and padding boundary', () => {
    for (let n = 0; n <= 200; n++) {
      const text = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(6).slice(0, n);
      expect(sha256Hex(text), `length ${n}`).toBe(reference(text));
    }
  });

  it('matches the FIPS 180-4 example and node:crypto on multi-byte UTF-8', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const text of ['é', 'ü'.repeat(40), '日本語のテキスト'.repeat(9), '🎉'.repeat(17)]) {
      expect(sha256Hex(text)).toBe(reference(text));
    }
  });
});
