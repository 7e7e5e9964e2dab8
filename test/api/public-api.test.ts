/**
 * What the package offers: the main entry (`sluice`) holds the pipeline, its options and errors and
 * the contracts a user implements; the ring's primitives are the `sluice/queue` entry. The
 * `expectTypeOf` assertions are checked by the type check (`npm run lint`), the rest at run time.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type {
  CloseOptions,
  DecodedEvent,
  Pipeline,
  PipelineOptions,
  PipelineSummary,
  ResolvedPipelineOptions,
  Sink,
  SinkContext,
  SinkFactory,
  SinkRecord,
  SluiceErrorCode,
  SluiceEvent,
  Source,
  SourceTarget,
  TransformModule,
  TransformOutput,
  WriteOutcome,
} from '../../src/index.js';
import * as sluice from '../../src/index.js';
import * as queue from '../../src/queue/index.js';
import { ROOT } from '../harness/built.js';

/** Names the main entry exported before the ring moved to `sluice/queue`. */
const RING_INTERNALS = [
  'EventQueue',
  'Ring',
  'RingConsumer',
  'QueueProducer',
  'AsyncQueueProducer',
  'forEachRecord',
  'readRecord',
  'payloadText',
];

describe('the main entry', () => {
  it('exports the pipeline, the metrics server, option resolvers and defaults, every error class and the id generator', () => {
    expect(Object.keys(sluice).sort()).toEqual(
      [
        'ClosedError',
        'DEFAULT_MAX_BATCH_BYTES',
        'DEFAULT_MAX_RECORDS',
        'DEFAULT_MAX_RECORD_BYTES',
        'DEFAULT_QUEUE_OPTIONS',
        'DEFAULT_RETRY_OPTIONS',
        'DEFAULT_WORKER_OPTIONS',
        'DiskQueueFailedError',
        'InvalidEventError',
        'InvalidOptionError',
        'QueueFullError',
        'QueueLockedError',
        'RecordTooLargeError',
        'ShutdownTimeoutError',
        'SinkError',
        'SluiceError',
        'SourceError',
        'StartupTimeoutError',
        'TransformError',
        'connectProducer',
        'createMetricsServer',
        'createPipeline',
        'resolvePipelineOptions',
        'resolveQueueOptions',
        'resolveRetryOptions',
        'uuidv7',
      ].sort(),
    );
  });

  it('does not export the ring internals', () => {
    for (const name of RING_INTERNALS) expect(Object.hasOwn(sluice, name), name).toBe(false);
  });

  it('every error class is a SluiceError with its stable code', () => {
    const errors = [
      [new sluice.InvalidOptionError('queue.capacityBytes', 'a power of two', 1000), 'SLUICE_INVALID_OPTION'],
      [new sluice.SinkError('down', { retryable: true }), 'SLUICE_SINK_ERROR'],
    ] as const;
    for (const [error, code] of errors) {
      expect(error).toBeInstanceOf(sluice.SluiceError);
      expect(error.code).toBe(code);
    }
    expectTypeOf(errors[0][0].code).toEqualTypeOf<SluiceErrorCode>();
  });

  it('createPipeline takes optional options and resolves to a Pipeline', () => {
    expectTypeOf(sluice.createPipeline).parameters.toEqualTypeOf<[options?: PipelineOptions]>();
    expectTypeOf(sluice.createPipeline).returns.resolves.toEqualTypeOf<Pipeline>();
    expectTypeOf<ResolvedPipelineOptions>().toExtend<PipelineOptions>();
    expectTypeOf(sluice.resolvePipelineOptions).returns.toEqualTypeOf<ResolvedPipelineOptions>();
    expectTypeOf<PipelineOptions>().toHaveProperty('sink');
    expectTypeOf<PipelineOptions>().toHaveProperty('transform');
    expectTypeOf<{ sink: { type: 'carrier-pigeon' } }>().not.toExtend<PipelineOptions>();
  });

  it('a Pipeline takes events and lines, drains, and closes with a summary', () => {
    expectTypeOf<Pipeline['push']>().parameter(0).toEqualTypeOf<SluiceEvent>();
    expectTypeOf<Pipeline['push']>().returns.toEqualTypeOf<Promise<boolean>>();
    expectTypeOf<Pipeline['pushRaw']>().parameter(0).toEqualTypeOf<Uint8Array | string>();
    expectTypeOf<Pipeline['drained']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<Pipeline['close']>().parameters.toEqualTypeOf<[options?: CloseOptions]>();
    expectTypeOf<Pipeline['close']>().returns.toEqualTypeOf<Promise<PipelineSummary>>();
    expectTypeOf<SluiceEvent>().toEqualTypeOf<{
      id?: string;
      key?: string;
      source?: string;
      ts?: number;
      payload: unknown;
    }>();
  });

  it('the Sink contract is open, write a batch, close', () => {
    expectTypeOf<Sink['open']>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<Sink['write']>().toEqualTypeOf<
      (records: readonly SinkRecord[]) => Promise<WriteOutcome | undefined>
    >();
    expectTypeOf<Sink['close']>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<Sink['idempotent']>().toEqualTypeOf<boolean>();
    expectTypeOf<SinkRecord>().toHaveProperty('id').toEqualTypeOf<string>();
    expectTypeOf<SinkFactory>().parameter(1).toEqualTypeOf<SinkContext>();
    expectTypeOf<SinkFactory>().returns.toEqualTypeOf<Sink | Promise<Sink>>();
    const sink: Sink = {
      idempotent: true,
      open: async () => {},
      write: async () => undefined,
      close: async () => {},
    };
    expectTypeOf(sink).toExtend<Sink>();
  });

  it('the Source and transform contracts', () => {
    expectTypeOf<Source['start']>().parameters.toEqualTypeOf<[target: SourceTarget, signal: AbortSignal]>();
    expectTypeOf<Source['stop']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<SourceTarget>().toHaveProperty('push');
    expectTypeOf<SourceTarget>().not.toHaveProperty('close');
    expectTypeOf<NonNullable<TransformModule['default']>>().parameter(0).toEqualTypeOf<DecodedEvent>();
    expectTypeOf<NonNullable<TransformModule['default']>>().returns.toEqualTypeOf<
      TransformOutput | Promise<TransformOutput>
    >();
    expectTypeOf<null>().toExtend<TransformOutput>();
  });
});

describe('the sluice/queue entry', () => {
  it('exports the ring primitives and the queue options', () => {
    for (const name of RING_INTERNALS) expect(Object.hasOwn(queue, name), name).toBe(true);
    expect(queue.resolveQueueOptions).toBe(sluice.resolveQueueOptions);
    expectTypeOf(queue.EventQueue.create).parameter(0).toEqualTypeOf<sluice.ResolvedQueueOptions>();
  });

  it('a ring built from its exports carries a record from producer to consumer', async () => {
    const q = queue.EventQueue.create(queue.resolveQueueOptions({ capacityBytes: 1 << 16 }));
    await new queue.AsyncQueueProducer(q).push({ id: 'order-1', payload: { total: 42 } });
    const ring = q.rings[0]!;
    const consumer = new queue.RingConsumer(ring);
    const range = consumer.claim(10, 1 << 16);
    expect(range).not.toBeNull();
    const seen: unknown[] = [];
    queue.forEachRecord(ring, range!.start, range!.end, (at) => {
      const record = queue.readRecord(ring, at);
      seen.push([record.id, JSON.parse(queue.payloadText(ring, record))]);
    });
    expect(seen).toEqual([['order-1', { total: 42 }]]);
  });
});

describe('the package exports map', () => {
  it("resolves 'sluice' and 'sluice/queue' to the built entries, and nothing else", () => {
    const script = `
      const main = await import('sluice');
      const queue = await import('sluice/queue');
      let bench = 'refused';
      try { await import('sluice/dist/src/harness/run-bench.js'); bench = 'resolved'; } catch {}
      console.log(JSON.stringify({ main: Object.keys(main), queue: Object.keys(queue), bench }));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    const seen = JSON.parse(run.stdout) as { main: string[]; queue: string[]; bench: string };
    expect(seen.main.sort()).toEqual(Object.keys(sluice).sort());
    expect(seen.queue.sort()).toEqual(Object.keys(queue).sort());
    expect(seen.bench).toBe('refused');
  });
});
