import { describe, expect, it } from 'vitest';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { InvalidOptionError, type SluiceError } from '../../src/errors.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import type { QueueOptions, ResolvedQueueOptions } from '../../src/queue/queue-options.js';
import { DEFAULT_MAX_RECORD_BYTES, DEFAULT_QUEUE_OPTIONS } from '../../src/queue/queue-options.js';

function rejectionOf(options: QueueOptions, prefix?: string): SluiceError {
  try {
    resolveQueueOptions(options, prefix);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as SluiceError;
  }
  throw new Error(`resolveQueueOptions accepted ${JSON.stringify(options)}`);
}

describe('resolveQueueOptions defaults', () => {
  it('no options resolve to a 16 MiB single-partition blocking queue with 1 MiB records', () => {
    expect(resolveQueueOptions()).toEqual({
      capacityBytes: 16 * 1024 * 1024,
      partitions: 1,
      policy: 'block',
      rejectTimeoutMs: 0,
      maxRecordBytes: 1024 * 1024,
      durability: 'memory',
      path: undefined,
      fsync: 'group',
      fsyncIntervalMs: 1000,
      maxDiskBytes: 1024 * 1024 * 1024,
    });
    expect(resolveQueueOptions({})).toEqual(resolveQueueOptions());
    expect(DEFAULT_MAX_RECORD_BYTES).toBe(1024 * 1024);
  });

  it('the default record limit shrinks to a quarter of a small ring', () => {
    expect(resolveQueueOptions({ capacityBytes: 4096 }).maxRecordBytes).toBe(1024);
    expect(resolveQueueOptions({ capacityBytes: 2 * 1024 * 1024 }).maxRecordBytes).toBe(512 * 1024);
    expect(resolveQueueOptions({ capacityBytes: 1 << 30 }).maxRecordBytes).toBe(1024 * 1024);
  });

  it('fields given as undefined keep their defaults', () => {
    expect(
      resolveQueueOptions({
        capacityBytes: undefined,
        partitions: undefined,
        policy: undefined,
        rejectTimeoutMs: undefined,
        maxRecordBytes: undefined,
      }),
    ).toEqual(resolveQueueOptions());
  });

  it('valid explicit options are kept as given', () => {
    const options = {
      capacityBytes: 8192,
      partitions: 1024,
      policy: 'drop-oldest',
      rejectTimeoutMs: 2.5,
      maxRecordBytes: 64,
    } as const;
    expect(resolveQueueOptions(options)).toEqual({
      ...options,
      durability: 'memory',
      path: undefined,
      fsync: 'group',
      fsyncIntervalMs: 1000,
      maxDiskBytes: 1024 * 1024 * 1024,
    });
    for (const policy of ['block', 'reject', 'drop-newest', 'drop-oldest'] as const) {
      expect(resolveQueueOptions({ policy }).policy).toBe(policy);
    }
    expect(resolveQueueOptions({ capacityBytes: 4096, maxRecordBytes: 1024 }).maxRecordBytes).toBe(1024);
  });

  it('the defaults object is frozen so no caller can change another caller’s defaults', () => {
    expect(Object.isFrozen(DEFAULT_QUEUE_OPTIONS)).toBe(true);
  });

  it('EventQueue.create builds one ring per partition from resolved options', () => {
    expect(() => EventQueue.create(resolveQueueOptions({ capacityBytes: 1000 }))).toThrow(
      /queue\.capacityBytes.*1000/,
    );
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096, partitions: 3 }));
    expect(queue.rings).toHaveLength(3);
    expect(queue.rings.every((ring) => ring.capacity === 4096)).toBe(true);
  });

  it('EventQueue.create refuses options resolveQueueOptions did not return, instead of resolving them again', () => {
    const unresolved = { capacityBytes: 4096, partitions: 0 } as unknown as ResolvedQueueOptions;
    expect(() => EventQueue.create(unresolved)).toThrow(
      expect.objectContaining({
        code: 'SLUICE_INVALID_OPTION',
        message:
          'queue must be the options resolveQueueOptions() returns, got {"capacityBytes":4096,"partitions":0}',
      }),
    );
  });

  it('resolving resolved queue options returns them unchanged', () => {
    const resolved = resolveQueueOptions({ capacityBytes: 8192, policy: 'reject' });
    expect(resolveQueueOptions(resolved)).toBe(resolved);
    expect(resolveQueueOptions({ ...resolved })).toEqual(resolved);
  });
});

/** Renders options for a test name, showing NaN and Infinity as themselves. */
function describeOptions(options: QueueOptions): string {
  return `{ ${Object.entries(options)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
    .join(', ')} }`;
}

describe('resolveQueueOptions rejects each invalid field, naming it and quoting the value', () => {
  const cases: { options: QueueOptions; field: string; quoted: string }[] = [
    { options: { capacityBytes: 1000 }, field: 'capacityBytes', quoted: '1000' },
    { options: { capacityBytes: 0 }, field: 'capacityBytes', quoted: '0' },
    { options: { capacityBytes: 2048 }, field: 'capacityBytes', quoted: '2048' },
    { options: { capacityBytes: 6144 }, field: 'capacityBytes', quoted: '6144' },
    { options: { capacityBytes: 2 ** 31 }, field: 'capacityBytes', quoted: '2147483648' },
    { options: { capacityBytes: 4096.5 }, field: 'capacityBytes', quoted: '4096.5' },
    { options: { capacityBytes: -4096 }, field: 'capacityBytes', quoted: '-4096' },
    { options: { capacityBytes: Number.NaN }, field: 'capacityBytes', quoted: 'NaN' },
    { options: { capacityBytes: Number.POSITIVE_INFINITY }, field: 'capacityBytes', quoted: 'Infinity' },
    { options: { capacityBytes: '4096' as unknown as number }, field: 'capacityBytes', quoted: '"4096"' },
    { options: { capacityBytes: null as unknown as number }, field: 'capacityBytes', quoted: 'null' },
    { options: { partitions: 0 }, field: 'partitions', quoted: '0' },
    { options: { partitions: 1.5 }, field: 'partitions', quoted: '1.5' },
    { options: { partitions: 1025 }, field: 'partitions', quoted: '1025' },
    { options: { partitions: '2' as unknown as number }, field: 'partitions', quoted: '"2"' },
    { options: { policy: 'drop-everything' as never }, field: 'policy', quoted: '"drop-everything"' },
    { options: { policy: 'BLOCK' as never }, field: 'policy', quoted: '"BLOCK"' },
    { options: { rejectTimeoutMs: -1 }, field: 'rejectTimeoutMs', quoted: '-1' },
    { options: { rejectTimeoutMs: Number.NaN }, field: 'rejectTimeoutMs', quoted: 'NaN' },
    { options: { rejectTimeoutMs: '5' as unknown as number }, field: 'rejectTimeoutMs', quoted: '"5"' },
    { options: { maxRecordBytes: 56 }, field: 'maxRecordBytes', quoted: '56' },
    { options: { maxRecordBytes: 100 }, field: 'maxRecordBytes', quoted: '100' },
    { options: { maxRecordBytes: 64.5 }, field: 'maxRecordBytes', quoted: '64.5' },
    { options: { capacityBytes: 4096, maxRecordBytes: 1032 }, field: 'maxRecordBytes', quoted: '1032' },
    { options: { maxRecordBytes: '1024' as unknown as number }, field: 'maxRecordBytes', quoted: '"1024"' },
  ];

  for (const { options, field, quoted } of cases) {
    it(`${field}: ${describeOptions(options)} fails with SLUICE_INVALID_OPTION naming queue.${field} and ${quoted}`, () => {
      const error = rejectionOf(options);
      expect(error.code).toBe('SLUICE_INVALID_OPTION');
      expect(error.message).toContain(`queue.${field}`);
      expect(error.message).toMatch(new RegExp(`got ${quoted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    });
  }

  it('capacityBytes 1000 gives the documented message', () => {
    expect(rejectionOf({ capacityBytes: 1000 }).message).toBe(
      'queue.capacityBytes must be a power of two from 4096 to 1073741824, got 1000',
    );
  });

  it('the field prefix names where the options came from', () => {
    const error = rejectionOf({ partitions: 0 }, 'pipeline.queue');
    expect(error.message).toContain('pipeline.queue.partitions');
    expect(error.message).toContain('got 0');
  });

  it('every invalid field is reported when several are invalid, in the order of the options', () => {
    const error = rejectionOf({ capacityBytes: 1000, partitions: 0 });
    expect(error.message).toContain('queue.capacityBytes');
    expect((error as InvalidOptionError).problems).toEqual([
      'queue.capacityBytes must be a power of two from 4096 to 1073741824, got 1000',
      'queue.partitions must be an integer from 1 to 1024, got 0',
    ]);
  });

  it('an unknown field is a problem naming it and the known ones, not an option silently ignored', () => {
    expect(rejectionOf({ bogus: 1 } as QueueOptions).message).toBe(
      'queue.bogus is not a known field (expected one of capacityBytes, partitions, policy, rejectTimeoutMs, maxRecordBytes, durability, path, fsync, fsyncIntervalMs, maxDiskBytes), got 1',
    );
  });

  it('options that are not an object are named by the prefix', () => {
    expect(rejectionOf(7 as QueueOptions).message).toBe('queue must be an object, got 7');
  });
});
