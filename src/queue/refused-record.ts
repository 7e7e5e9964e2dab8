import { headOf, REFUSED_HEAD_BYTES, standInText } from '../codec/refused-record.js';
import { RecordTooLargeError } from '../errors.js';
import type { RawRecord } from './producer.js';
import { type PreparedRecord, prepareRaw } from './record-codec.js';

/**
 * In place of a raw event too large for the queue: a small record with the event's id, key and
 * source and, as its payload, what it was (src/codec/refused-record.ts). Pushed like any raw
 * record (pushRawRecords), it takes the event's place in the ring and a worker dead-letters it as
 * `too-large` — so a source that must account for what it read (a broker acknowledges a message
 * only once its event is written or dead-lettered) never holds an event that cannot move.
 */
export class RefusedRecord implements RawRecord {
  readonly data: string;
  readonly id: string | undefined;
  readonly key: string | undefined;
  readonly source: string | undefined;
  readonly #event: Uint8Array | string;
  readonly #recordBytes: number;
  readonly #limit: number;
  readonly #limitName: string;

  constructor(event: RawRecord, recordBytes: number, limit: number, limitName = 'queue.maxRecordBytes') {
    this.#event = event.data;
    this.#recordBytes = recordBytes;
    this.#limit = limit;
    this.#limitName = limitName;
    this.id = event.id;
    this.key = event.key;
    this.source = event.source;
    this.data = this.#text(REFUSED_HEAD_BYTES);
  }

  #text(headBytes: number): string {
    return standInText({
      recordBytes: this.#recordBytes,
      limit: this.#limit,
      limitName: this.#limitName,
      head: headOf(this.#event, headBytes),
    });
  }

  /**
   * The stand-in prepared for the ring, its head shortened as far as it must to fit `maxRecordBytes`
   * (a small queue's limit may be below REFUSED_HEAD_BYTES), then without its key and source: a
   * stand-in that does not exist leaves a broker's message to come again for ever, and its id alone
   * keeps it the event's. RecordTooLargeError when not even the id and the sizes fit (a limit of a
   * few dozen bytes beyond the record header).
   */
  prepare(maxRecordBytes: number): PreparedRecord {
    let refusal: unknown;
    for (const whole of [true, false]) {
      for (let head = REFUSED_HEAD_BYTES; ; head >>= 1) {
        const data = head === REFUSED_HEAD_BYTES ? this.data : this.#text(head);
        try {
          return whole
            ? prepareRaw(data, this.key, maxRecordBytes, this.id, this.source, true)
            : prepareRaw(data, undefined, maxRecordBytes, this.id, undefined, true);
        } catch (error) {
          if (!(error instanceof RecordTooLargeError)) throw error;
          refusal = error;
          if (head === 0) break;
        }
      }
    }
    throw refusal;
  }
}

/**
 * `records`, each one too large for the queue replaced by its RefusedRecord; undefined when none is.
 * Other refusals (an invalid key) are thrown as pushRawRecords would.
 */
export function withStandIns(
  records: readonly RawRecord[],
  maxRecordBytes: number,
): { records: RawRecord[]; refused: RefusedRecord[] } | undefined {
  const refused: RefusedRecord[] = [];
  const out = records.map((record) => {
    try {
      prepareRaw(record.data, record.key, maxRecordBytes, record.id, record.source);
      return record;
    } catch (error) {
      if (!(error instanceof RecordTooLargeError)) throw error;
      const standIn = new RefusedRecord(record, error.recordBytes, maxRecordBytes);
      refused.push(standIn);
      return standIn;
    }
  });
  return refused.length === 0 ? undefined : { records: out, refused };
}
