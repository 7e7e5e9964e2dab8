/** Accounting by id: acknowledged, lost, duplicated and dead-lettered events over producer blocks. */
import { describe, expect, it } from 'vitest';
import { IdLedger } from '../../src/harness/id-ledger.js';

const PREFIX = 'run-1a2b-';

function ledgers(capacity = 1000): { acks: IdLedger; dead: IdLedger } {
  return { acks: new IdLedger(capacity, PREFIX), dead: new IdLedger(capacity, PREFIX) };
}

function range(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i);
}

describe('IdLedger.account', () => {
  it('tells acknowledged, lost, duplicated and dead-lettered events apart across several blocks', () => {
    const { acks, dead } = ledgers();
    const blocks = [
      [0, 10],
      [100, 20],
      [500, 5],
    ] as const;
    const lost = new Set([9, 119, 504]);
    const deadLettered = new Set([105, 106]);
    for (const [start, count] of blocks) {
      for (const seq of range(start, count)) {
        if (!lost.has(seq) && !deadLettered.has(seq)) acks.record(acks.id(seq));
      }
    }
    for (const seq of deadLettered) dead.record(dead.id(seq));
    acks.record(acks.id(3));
    acks.record(acks.id(3));
    acks.record(acks.id(101));
    // Acknowledged after a dead letter (a retry that finally succeeded): acknowledged, not dead.
    dead.record(dead.id(107));
    // A dead letter outside every block is nobody's event.
    dead.record(dead.id(700));

    expect(acks.account(blocks, dead)).toEqual({
      acknowledged: 35 - lost.size - deadLettered.size,
      lost: lost.size,
      duplicates: 3,
      deadLettered: deadLettered.size,
    });
  });

  it('counts every unacknowledged event as lost when there is no dead-letter ledger', () => {
    const { acks } = ledgers();
    for (const seq of range(0, 6)) acks.record(acks.id(seq));
    expect(acks.account([[0, 10]], undefined)).toEqual({
      acknowledged: 6,
      lost: 4,
      duplicates: 0,
      deadLettered: 0,
    });
  });

  it('ignores ids without the prefix and sequence numbers outside the ledger', () => {
    const { acks } = ledgers(100);
    for (const id of [
      'other-5',
      '5',
      'RUN-1A2B-5',
      `x${PREFIX}5`,
      `${PREFIX}100`,
      `${PREFIX}5000`,
      `${PREFIX}-1`,
    ]) {
      acks.record(id);
    }
    // A flatMap's derived ids (`<id>:<k>`) are not events of the run.
    acks.record(`${PREFIX}5:0`);
    acks.record(`${PREFIX}5:1`);
    expect(acks.account([[0, 100]], undefined)).toEqual({
      acknowledged: 0,
      lost: 100,
      duplicates: 0,
      deadLettered: 0,
    });
    expect(acks.account([], undefined)).toEqual({ acknowledged: 0, lost: 0, duplicates: 0, deadLettered: 0 });
  });

  it('ignores ids that are the prefix followed by anything but a decimal sequence number', () => {
    const { acks } = ledgers(100);
    // Each of these parses as a number, but none is the id of an event (event 16 is `${PREFIX}16`).
    for (const suffix of ['', '0x10', '1e1', ' 5', '5.0', '+7']) acks.record(`${PREFIX}${suffix}`);
    expect(acks.account([], undefined)).toEqual({ acknowledged: 0, lost: 0, duplicates: 0, deadLettered: 0 });
    expect(acks.account([[0, 20]], undefined).acknowledged).toBe(0);
  });

  it('counts acknowledgements of sequence numbers outside every block as duplicates (phantom events)', () => {
    const { acks } = ledgers();
    for (const seq of range(0, 10)) acks.record(acks.id(seq));
    acks.record(acks.id(50));
    acks.record(acks.id(50));
    acks.record(acks.id(999));
    expect(acks.account([[0, 10]], undefined)).toEqual({
      acknowledged: 10,
      lost: 0,
      duplicates: 3,
      deadLettered: 0,
    });
  });

  it('saturates an id at 255 acknowledgements rather than wrapping to zero', () => {
    const { acks } = ledgers(10);
    for (let i = 0; i < 300; i++) acks.record(acks.id(4));
    expect(acks.account([[4, 1]], undefined)).toEqual({
      acknowledged: 1,
      lost: 0,
      duplicates: 254,
      deadLettered: 0,
    });
  });

  it('sees acknowledgements recorded through another ledger on the same buffer', () => {
    const { acks } = ledgers(50);
    const inSink = new IdLedger(0, PREFIX, acks.buffer);
    expect(inSink.capacity).toBe(50);
    for (const seq of range(0, 50)) inSink.record(inSink.id(seq));
    expect(acks.account([[0, 50]], undefined)).toEqual({
      acknowledged: 50,
      lost: 0,
      duplicates: 0,
      deadLettered: 0,
    });
  });
});
