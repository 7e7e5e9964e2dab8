/**
 * Sink commit → source acknowledgement: a message is acknowledged only once its event is stored
 * or dead-lettered, never before; a push that fails acknowledges nothing.
 */
import { describe, expect, it } from 'vitest';
import { SourceAcks } from '../../src/delivery/source-acks.js';
import { createControl, RECORDS_STORED, WRITES_AT_GATE } from '../fixtures/engine/control.js';
import { fixtureUrl, ids, openGate, turns, useScenes, waitForWord } from '../helpers/engine.js';

const scene = useScenes();

describe('SourceAcks', () => {
  it('acknowledges each message only after its event is in the sink, in push order, and holds the rest while the sink is stalled', async () => {
    const s = scene();
    const control = createControl(false);
    const words = new Int32Array(control);
    const pipeline = await s.pipeline({
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 40 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('ack', 500);
    const acked: string[] = [];
    /** For every ack: were all of its ids stored when it was sent? */
    const storedAtAck: boolean[] = [];
    const acks = new SourceAcks<string>(pipeline, (messages) => {
      const stored = new Set(s.rows().map((row) => row.id));
      storedAtAck.push(messages.every((id) => stored.has(id)));
      acked.push(...messages);
    });
    for (let i = 0; i < all.length; i += 50) {
      const group = all.slice(i, i + 50);
      acks.track(pipeline.pushRawRecords(group.map((id) => ({ data: `{"n":${i}}`, id }))), group);
    }
    expect(acks.pending).toBe(all.length);
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    await turns(5);
    expect(acked).toEqual([]);
    expect(acks.pending).toBe(all.length);

    openGate(words);
    await acks.whenBelow(0);
    expect(Atomics.load(words, RECORDS_STORED)).toBe(all.length);
    expect(acked).toEqual(all);
    expect(storedAtAck.every(Boolean)).toBe(true);
    expect(acks.acked).toBe(all.length);
    // The ids given with the raw records are the events' ids (the lines have none of their own).
    expect(
      s
        .rows()
        .map((row) => row.id)
        .sort(),
    ).toEqual([...all].sort());
  });

  it('acknowledges dead-lettered events too, and a line’s own id wins over the given one', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const acked: string[] = [];
    const acks = new SourceAcks<string>(pipeline, (messages) => {
      acked.push(...messages);
    });
    acks.track(
      pipeline.pushRawRecords([
        { data: '{"id":"own-id","v":1}', id: 'given-1' },
        { data: '{not json', id: 'given-2' },
        { data: '{"v":3}', id: 'given-3' },
      ]),
      ['m1', 'm2', 'm3'],
    );
    await acks.whenBelow(0);
    expect(acked).toEqual(['m1', 'm2', 'm3']);
    expect(s.rows().map((row) => row.id)).toEqual(['own-id', 'given-3']);
    const letters = s.deadLetters();
    expect(letters.map((l) => l.id)).toEqual(['given-2']);
  });

  it('acknowledges nothing for a push that fails, and counts a failed acknowledgement', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      queue: { capacityBytes: 64 * 1024 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
    });
    const acked: string[] = [];
    let failNext = true;
    const acks = new SourceAcks<string>(pipeline, (messages) => {
      if (failNext) {
        failNext = false;
        throw new Error('broker went away');
      }
      acked.push(...messages);
    });
    // Larger than maxRecordBytes (a quarter of the ring): the push rejects, nothing is acknowledged.
    acks.track(pipeline.pushRawRecords([{ data: `"${'x'.repeat(20_000)}"`, id: 'big' }]), ['big']);
    acks.track(pipeline.pushRawRecords([{ data: '{"v":1}', id: 'a' }]), ['a']);
    acks.track(pipeline.pushRawRecords([{ data: '{"v":2}', id: 'b' }]), ['b']);
    await acks.whenBelow(0);
    expect(acked).toEqual(['b']);
    expect(acks.failedAcks).toBe(1);
    expect(acks.acked).toBe(1);
    expect(
      s
        .rows()
        .map((row) => row.id)
        .sort(),
    ).toEqual(['a', 'b']);
  });

  it('finish() sends the acknowledgements a close settled and abandons what it left in the ring', async () => {
    const s = scene();
    const control = createControl(false);
    const words = new Int32Array(control);
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
    });
    const acked: string[] = [];
    const acks = new SourceAcks<string>(pipeline, async (messages) => {
      await turns(1);
      acked.push(...messages);
    });
    acks.track(pipeline.pushRawRecords([{ data: '{}', id: 'x' }]), ['x']);
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    // The sink stays stalled: the close times out and the event stays in the ring.
    await expect(pipeline.close({ timeoutMs: 200 })).rejects.toThrow(/1 events still in the ring/);
    await acks.finish();
    expect(acked).toEqual([]);

    const s2 = scene();
    const p2 = await s2.pipeline({
      workers: { min: 1, max: 1 },
      sink: { module: fixtureUrl('test-sink'), options: s2.sinkOptions() },
    });
    const acked2: string[] = [];
    const acks2 = new SourceAcks<string>(p2, async (messages) => {
      await turns(1);
      acked2.push(...messages);
    });
    acks2.track(p2.pushRawRecords([{ data: '{}', id: 'y' }]), ['y']);
    await p2.close();
    await acks2.finish();
    expect(acked2).toEqual(['y']);
  });

  it('gives back, unacknowledged, the messages of a push that accepted fewer than all or failed', async () => {
    let settles = 0;
    const target = {
      settled: () => {
        settles++;
        return Promise.resolve();
      },
    };
    const acked: string[] = [];
    const givenBack: string[] = [];
    const acks = new SourceAcks<string>(
      target,
      (messages) => {
        acked.push(...messages);
      },
      undefined,
      (messages) => {
        givenBack.push(...messages);
      },
    );
    acks.track(Promise.resolve(2), ['dropped-1', 'dropped-2', 'dropped-3']);
    acks.track(Promise.reject(new Error('closed')), ['failed-1']);
    acks.track(Promise.resolve(true), ['ok-1']);
    acks.track(Promise.resolve(2), ['ok-2', 'ok-3']);
    await acks.whenBelow(0);
    expect(acked).toEqual(['ok-1', 'ok-2', 'ok-3']);
    expect(givenBack.sort()).toEqual(['dropped-1', 'dropped-2', 'dropped-3', 'failed-1']);
    expect(acks.refused).toBe(3);
    expect(acks.pending).toBe(0);
    // Only the complete pushes waited for the pipeline to settle.
    expect(settles).toBe(2);
  });
});
