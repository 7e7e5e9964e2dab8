import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/engine/pipeline.js';
import { fixtureUrl } from '../helpers/engine.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface SpanLine {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

describe('OpenTelemetry spans', () => {
  it('a batch is one trace: dispatch on the main thread, then batch, transform and sink write in the worker', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    process.env.SLUICE_TEST_TRACE_FILE = join(dir, 'worker-spans.ndjson');
    const pipeline = await createPipeline({
      workers: { min: 1, max: 1 },
      batch: { maxRecords: 10 },
      transform: fixtureUrl('tracing-transform'),
      sink: { type: 'sqlite', path: join(dir, 'out.db') },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
    });
    await pipeline.pushMany(Array.from({ length: 50 }, (_, i) => ({ id: `t-${i}`, payload: { i } })));
    await pipeline.drained();
    await pipeline.close();
    const dispatch = exporter.getFinishedSpans().filter((s) => s.name === 'sluice.dispatch');
    const worker = readFileSync(process.env.SLUICE_TEST_TRACE_FILE, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as SpanLine);
    const batches = worker.filter((s) => s.name === 'sluice.batch');
    expect(batches.length).toBeGreaterThanOrEqual(5);
    const dispatchIds = new Map(dispatch.map((s) => [s.spanContext().spanId, s.spanContext().traceId]));
    for (const batch of batches) {
      expect(dispatchIds.get(batch.parentSpanId!), 'a batch span is the child of a dispatch span').toBe(
        batch.traceId,
      );
      const children = worker.filter((s) => s.parentSpanId === batch.spanId).map((s) => s.name);
      expect(children.sort()).toEqual(['sluice.sink.write', 'sluice.transform']);
    }
  });
});
