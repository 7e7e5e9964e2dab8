/**
 * shutdownTimeoutMs is a timer's delay: one past the longest delay a Node timer takes (2^31 - 1 ms,
 * which Node fires after 1 ms) is refused when the config is read, not found out at shutdown.
 */
import { describe, expect, it } from 'vitest';
import { resolveRunConfig } from '../../src/config/run-config.js';
import { RunConfigError } from '../../src/errors.js';

function problems(shutdownTimeoutMs: unknown): readonly string[] {
  try {
    resolveRunConfig(
      { source: { type: 'synthetic' }, sink: { type: 'null' }, shutdownTimeoutMs },
      process.cwd(),
      {},
    );
    return [];
  } catch (error) {
    if (error instanceof RunConfigError) return error.errors;
    throw error;
  }
}

describe('shutdownTimeoutMs', () => {
  it('takes 1 to 2^31 - 1 ms and refuses what a Node timer cannot wait, naming the field and the value', () => {
    expect(problems(1)).toEqual([]);
    expect(problems(2 ** 31 - 1)).toEqual([]);
    for (const [value, shown] of [
      [2 ** 31, '2147483648'],
      [1e15, '1000000000000000'],
      [0, '0'],
      [1.5, '1.5'],
    ] as const) {
      expect(problems(value)).toEqual([
        `shutdownTimeoutMs must be an integer of milliseconds from 1 to 2147483647, got ${shown}`,
      ]);
    }
  });
});
