import { describe, expect, it } from 'vitest';
import { NullSink } from '../../src/sinks/null-sink.js';
import { complianceBatch, runSinkCompliance } from '../helpers/sink-compliance.js';

// The null sink keeps nothing a reader could find, and nothing it depends on can fail: the
// compliance suite checks only that writes resolve and that close is clean.
runSinkCompliance(
  () => new NullSink(),
  async () => [],
  { name: 'null', stores: false },
);

describe('NullSink', () => {
  it('counts every record written, rewrites included', async () => {
    const sink = new NullSink();
    await sink.open();
    await sink.write(complianceBatch(7));
    await sink.write(complianceBatch(5));
    expect(sink.written).toBe(12);
    await sink.close();
  });
});
