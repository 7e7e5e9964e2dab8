import { describe, expect, it } from 'vitest';
import { parseLoadFlags } from '../../bench/postgres-load/load-flags.js';

describe('bench:postgres-load flags', () => {
  it('runs the one-line rounds as many times as the main ones unless told, and none at 0', () => {
    expect(parseLoadFlags([])).toMatchObject({ rounds: 3, startupRounds: 3 });
    expect(parseLoadFlags(['--quick'])).toMatchObject({ rounds: 1, startupRounds: 1 });
    expect(parseLoadFlags(['--rounds', '5'])).toMatchObject({ rounds: 5, startupRounds: 5 });
    expect(parseLoadFlags(['--rounds', '5', '--startup-rounds', '2'])).toMatchObject({
      rounds: 5,
      startupRounds: 2,
    });
    expect(parseLoadFlags(['--startup-rounds', '0'])).toMatchObject({ startupRounds: 0 });
  });

  it('refuses a start-up round count that is not a whole number, naming the flag and the value', () => {
    expect(() => parseLoadFlags(['--startup-rounds=-1'])).toThrow(
      '--startup-rounds must be a whole number (0 or more), got "-1"',
    );
    expect(() => parseLoadFlags(['--startup-rounds', '1.5'])).toThrow(/--startup-rounds .* got "1\.5"/);
    expect(() => parseLoadFlags(['--startup-rounds', 'x'])).toThrow(/--startup-rounds .* got "x"/);
  });
});
