import { JsonScanner, SCAN_OK } from '../codec/json-scan.js';
import { stripMembers } from '../codec/json-strip-members.js';
import { HttpError, RecordTooLargeError } from '../errors.js';
import type { RawRecord } from '../queue/producer.js';
import { prepareRaw } from '../queue/record-codec.js';
import { checkLineBatch, LineRun } from '../queue/record-run.js';
import { BOM_BYTES, hasBom, lineBatch, splitLines } from './ndjson-lines.js';
import type { SourceTarget } from './source.js';

/** Keys that could reach an object's prototype when a consumer merges the event. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** The same keys as they appear in JSON text: an element without any of them is taken as it is. */
const FORBIDDEN_KEYS_TEXT = [...FORBIDDEN_KEYS].map((key) => Buffer.from(`"${key}"`));
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const JSON_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * A body's events, to push in order a chunk at a time: how many there are, each one's size in the
 * ring (what the producer will reserve: header, generated id, source, payload, aligned), and the
 * push of events [from, to).
 */
export interface BodyEvents {
  readonly length: number;
  size(i: number): number;
  push(target: SourceTarget, from: number, to: number): Promise<number>;
}

/**
 * A request body as the events to push: an NDJSON body's lines, or a JSON array's elements, each
 * sized before any is pushed. A body refused whole throws HttpError: 400 (not a JSON array), 413
 * (an event larger than queue.maxRecordBytes).
 */
export function bodyEvents(body: Buffer, ndjson: boolean, label: string, maxRecordBytes: number): BodyEvents {
  // A UTF-8 byte order mark opening the body is not part of its first event (as in a file).
  const events = hasBom(body) ? body.subarray(BOM_BYTES) : body;
  return ndjson ? lineEvents(events, label, maxRecordBytes) : elementEvents(events, label, maxRecordBytes);
}

/** The 413 for event `index` of a body, larger than the ring's largest record. */
function tooLargeEvent(index: number, maxRecordBytes: number): HttpError {
  return new HttpError(413, `event ${index} is larger than queue.maxRecordBytes (${maxRecordBytes})`);
}

/**
 * An NDJSON body's non-blank lines, each without its CR and not parsed, pushed as lines lying in
 * the body (pushLines: no object per line). Each one's source is `<label> line <n>`, counting every
 * line of the body from 1, blank ones included.
 */
function lineEvents(body: Buffer, label: string, maxRecordBytes: number): BodyEvents {
  const lines = splitLines(body);
  const naming = { sourcePrefix: `${label} line ` };
  const count = lines.starts.length;
  let run: LineRun;
  try {
    run = new LineRun(checkLineBatch(lineBatch(lines, 0, count, naming)), maxRecordBytes);
  } catch (error) {
    if (!(error instanceof RecordTooLargeError)) throw error;
    // The run stops at the first line too large; which one it was is for the answer to say.
    for (let i = 0; i < count; i++) {
      try {
        new LineRun(checkLineBatch(lineBatch(lines, i, i + 1, naming)), maxRecordBytes);
      } catch (lineError) {
        if (lineError instanceof RecordTooLargeError) throw tooLargeEvent(i, maxRecordBytes);
        throw lineError;
      }
    }
    throw error;
  }
  return {
    length: count,
    size: (i) => run.size(i),
    push: (target, from, to) => target.pushLines(lineBatch(lines, from, to, naming)),
  };
}

/** A JSON array body's elements (splitArray), each pushed as a raw record of its own. */
function elementEvents(body: Buffer, label: string, maxRecordBytes: number): BodyEvents {
  const records = splitArray(body, label);
  const sizes = records.map((record, index) => {
    try {
      return prepareRaw(record.data, undefined, maxRecordBytes, undefined, record.source).size;
    } catch (error) {
      if (error instanceof RecordTooLargeError) throw tooLargeEvent(index, maxRecordBytes);
      throw error;
    }
  });
  return {
    length: records.length,
    size: (i) => sizes[i]!,
    push: (target, from, to) => target.pushRawRecords(records.slice(from, to)),
  };
}

/**
 * A JSON array's elements, each as the bytes it was sent as — numbers exact, nothing re-serialised
 * — found by one scan of the body (JsonScanner), never parsed here. Members named `__proto__`,
 * `constructor` or `prototype`, at any depth, are cut out of those bytes (stripMembers: the rest
 * stays byte for byte), since they could reach an object's prototype when a consumer merges the
 * event. Each one's source is `<label> element <n>`, from 1.
 */
function splitArray(body: Buffer, label: string): RawRecord[] {
  const elements: number[] = [];
  // Depth is not limited here: an element nested too deep is the workers' to dead-letter alone.
  const result = new JsonScanner().scan(body, 0, body.length, Number.MAX_SAFE_INTEGER, false, elements);
  if (result !== SCAN_OK) {
    let message = 'not valid JSON';
    try {
      JSON.parse(body.toString('utf8'));
    } catch (error) {
      message = (error as Error).message;
    }
    throw new HttpError(400, `body is not valid JSON: ${message}`);
  }
  // Valid JSON: its first byte past the whitespace says what it is.
  let first = 0;
  while (first < body.length && JSON_SPACE.has(body[first]!)) first++;
  if (body[first] !== OPEN_BRACKET) {
    throw new HttpError(400, 'an application/json body must be an array of events');
  }
  const records: RawRecord[] = [];
  for (let i = 0; i < elements.length; i += 2) {
    let data = body.subarray(elements[i]!, elements[i + 1]!);
    // A name spelled with escapes ("__pro\u0074o__") is the same key to a consumer's JSON.parse.
    if (data.includes(BACKSLASH) || FORBIDDEN_KEYS_TEXT.some((key) => data.includes(key)))
      data = stripMembers(data, FORBIDDEN_KEYS) ?? data;
    records.push({ data, source: `${label} element ${i / 2 + 1}` });
  }
  return records;
}
