import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, open as openFd, openSync } from 'node:fs';
import { type FileReadResult, open, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { REFUSED_HEAD_BYTES } from '../codec/refused-record.js';
import { RecordTooLargeError, SourceError } from '../errors.js';
import { emptyObjectList } from '../object-list.js';
import type { LineBatch } from '../queue/record-run.js';
import { RefusedRecord } from '../queue/refused-record.js';
import { BOM_BYTES, hasBom, isBomStart, type Lines, lineBatch, PendingLines } from './ndjson-lines.js';
import { type SourceTarget, StoppableSource } from './source.js';

export interface NdjsonSourceOptions {
  /** File to read, or `-` for stdin. */
  path: string;
  /** Longer lines are not pushed: each is logged (pino warn, with its line number) and counted. @default 1 MiB */
  maxLineBytes?: number;
  /** Where `-` reads from. @default process.stdin */
  stdin?: Readable;
}

export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** Bytes per read of a file. */
const READ_BYTES = 1 << 20;
const NEWLINE = 0x0a;

/**
 * What `path` is: a regular file, a FIFO or socket, or anything else. A path that cannot even be
 * looked at (missing, a directory on the way not searchable) is a SourceError naming it, so that
 * `sluice run` says the source could not be opened (exit 69).
 */
function fileKind(path: string): Promise<'file' | 'pipe' | 'other'> {
  return stat(path).then(
    (s) => {
      if (s.isDirectory()) throw cannotOpen(path, new Error('it is a directory'));
      return s.isFile() ? 'file' : s.isFIFO() || s.isSocket() ? 'pipe' : 'other';
    },
    (error: unknown) => {
      throw cannotOpen(path, error);
    },
  );
}

function cannotOpen(path: string, error: unknown): SourceError {
  return new SourceError(`ndjson source: cannot open source.path "${path}": ${(error as Error).message}`, {
    cause: error,
  });
}

/**
 * A FIFO as a stream libuv polls: a file read stream's read of a FIFO waits in libuv's thread pool
 * for the next line, and destroying the stream waits for that read — a stop would wait for the
 * writer. Opening still waits for a writer, as a read stream's open does.
 */
async function pipeStream(path: string, signal: AbortSignal): Promise<Readable> {
  let opened = false;
  // The open waits in libuv's thread pool for a writer, and so would the process's exit, even a
  // second signal's: a stop opens the FIFO's writing end and closes it at once, which ends the
  // wait (the read that follows finds the input ended).
  const release = () => {
    if (opened) return;
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: no open is waiting (it ended meanwhile); nothing to release.
    }
  };
  signal.addEventListener('abort', release, { once: true });
  try {
    const fd = await new Promise<number>((resolve, reject) =>
      openFd(path, 'r', (error, fd) => {
        opened = true;
        if (error) reject(error);
        else resolve(fd);
      }),
    );
    return new Socket({ fd, readable: true, writable: false });
  } finally {
    signal.removeEventListener('abort', release);
  }
}

/**
 * A regular file's content in chunks of up to READ_BYTES, read ahead into two buffers used in turn
 * (BufferPool says why used again). Large reads: Node's 64 KiB default means a read and a loop
 * turn for every ~250 lines. A chunk's bytes stay as they are until the consumer asks for the
 * next chunk: by then it must have copied whatever it keeps of them.
 */
async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  const file = await open(path, 'r').catch((error: unknown) => {
    throw cannotOpen(path, error);
  });
  let reading: Promise<FileReadResult<Buffer>> | undefined;
  try {
    const buffers = [Buffer.allocUnsafeSlow(READ_BYTES), Buffer.allocUnsafeSlow(READ_BYTES)];
    let turn = 0;
    reading = file.read(buffers[turn]!, 0, READ_BYTES, null);
    for (;;) {
      const { bytesRead, buffer } = await reading;
      reading = undefined;
      if (bytesRead === 0) return;
      // The other buffer's chunk came before this one: asking for this one, the consumer is done
      // with it, so the next read can go there while this chunk is worked on.
      turn ^= 1;
      reading = file.read(buffers[turn]!, 0, READ_BYTES, null);
      yield bytesRead === READ_BYTES ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    // Stopped early: the read ahead is waited for (close does too), its result unused.
    await reading?.catch(() => undefined);
    await file.close();
  }
}

/** The first REFUSED_HEAD_BYTES of `parts` then `rest`, copied (a file's chunks are read into again). */
function headBytes(parts: readonly Buffer[], rest: Buffer): Buffer {
  const head = Buffer.concat([...parts, rest.subarray(0, REFUSED_HEAD_BYTES)]);
  return Buffer.from(head.subarray(0, REFUSED_HEAD_BYTES));
}

/** Only there to make ReadState's parts a list of buffers from the start. */
const EMPTY = Buffer.alloc(0);

/**
 * Where a read of the input stands between chunks (NdjsonSource#split). Its fields keep one type
 * each, and `partial` is one array, emptied rather than replaced: code V8 optimised for this
 * object's shape is not thrown away when a field first holds something else.
 */
class ReadState {
  /** The line begun in earlier chunks, copied; empty while skipping one too long. */
  readonly partial = emptyObjectList(EMPTY);
  partialBytes = 0;
  /** The line being read is longer than maxLineBytes: its bytes are counted, not kept. */
  skipping = false;
  /** While skipping: the line's first bytes (REFUSED_HEAD_BYTES at most), for its dead letter. */
  head: Buffer = EMPTY;
  /** Byte offset in the input of the current chunk's first byte, and of the line being read. */
  chunkOffset = 0;
  lineOffset = 0;
}

/**
 * Newline-delimited JSON from a file or stdin, pushed raw (parsed in the workers, never here) in
 * chunks; ends at EOF. A malformed line is pushed anyway and the engine dead-letters it as
 * `invalid-json`. Blank lines are skipped.
 */
export class NdjsonSource extends StoppableSource {
  readonly #path: string;
  readonly #maxLineBytes: number;
  readonly #stdin: Readable;
  /** `stdin`, or the path: the source of every event, before `:<line number>`. */
  readonly #label: string;
  /**
   * For a file: the start of the id a line without an `id` of its own gets, `ndjson-<digest of the
   * absolute path>:`, followed by the line's byte offset — the same on every read of the file, so
   * a run that is killed and started again over it stores each line once. Stdin cannot be read
   * again: its lines get fresh ids.
   */
  readonly #idPrefix: string | undefined;
  #lines = 0;
  #pushed = 0;
  #tooLong = 0;
  /** Lines longer than maxLineBytes not yet pushed as their stand-ins. */
  readonly #overLong: { line: number; offset: number; bytes: number; head: Buffer }[] = [];

  constructor(options: NdjsonSourceOptions) {
    super();
    this.#path = options.path;
    this.#maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#stdin = options.stdin ?? process.stdin;
    this.#label = options.path === '-' ? 'stdin' : options.path;
    this.#idPrefix =
      options.path === '-'
        ? undefined
        : `ndjson-${createHash('sha256').update(resolve(options.path)).digest('hex').slice(0, 16)}:`;
  }

  /** Lines read so far (blank ones included), i.e. the number of the last line seen. */
  get lines(): number {
    return this.#lines;
  }

  /** Lines the pipeline accepted. */
  get pushed(): number {
    return this.#pushed;
  }

  /** Lines not pushed because they were longer than maxLineBytes (or than the queue's largest record). */
  get tooLong(): number {
    return this.#tooLong;
  }

  protected async run(target: SourceTarget, signal: AbortSignal): Promise<void> {
    // A regular file is read into buffers used again (fileChunks); stdin, a FIFO or anything else
    // as a stream, whose read may wait for the next line for ever: destroyed, it ends.
    let stream: Readable | undefined;
    let input: AsyncIterable<Buffer | string>;
    const kind = this.#path === '-' ? 'stdin' : await fileKind(this.#path);
    if (kind === 'stdin') input = stream = this.#stdin;
    else if (kind === 'file') input = fileChunks(this.#path);
    else if (kind === 'pipe') input = stream = await pipeStream(this.#path, signal);
    else input = stream = createReadStream(this.#path, { highWaterMark: READ_BYTES });
    const onAbort = () => stream?.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    const state = new ReadState();
    // Complete lines, each queued without its CR and unless blank; a line's source is
    // `<path>:<line number>` (`stdin:<n>`), so a malformed line's dead letter says where it was.
    const pending = new PendingLines();
    // The input's first bytes while they may still be a byte order mark cut short by the read.
    let opening: Buffer | undefined;
    try {
      for await (const chunk of input) {
        if (signal.aborted) break;
        let buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        if (state.chunkOffset === 0 && (opening !== undefined || buffer.length < BOM_BYTES)) {
          buffer = opening === undefined ? buffer : Buffer.concat([opening, buffer]);
          opening = undefined;
          if (buffer.length < BOM_BYTES && isBomStart(buffer)) {
            // A copy: a file's read buffer is used again for the next read.
            opening = Buffer.from(buffer);
            continue;
          }
        }
        this.#split(buffer, state, pending, target);
        // Every complete line read is pushed before the next read: a slow stdin still flows, and a
        // stop never strands lines that were read but not pushed.
        for (const batch of pending.take()) await this.#push(target, batch);
        await this.#pushOverLong(target);
        if (signal.aborted) break;
      }
      // An input of one or two bytes that began like a byte order mark: a line like any other.
      if (!signal.aborted && opening !== undefined) this.#split(opening, state, pending, target);
      if (!signal.aborted && (state.partialBytes > 0 || state.skipping)) {
        this.#lines++;
        if (state.skipping || state.partialBytes > this.#maxLineBytes) {
          const head = state.skipping ? state.head : headBytes(state.partial, EMPTY);
          this.#reject(target, state.partialBytes, state, head);
        } else {
          const line = Buffer.concat(state.partial);
          pending.add(line, 0, line.length, state.lineOffset, this.#lines);
        }
      }
      for (const batch of pending.take()) await this.#push(target, batch);
      await this.#pushOverLong(target);
    } catch (error) {
      // A destroyed input ends its iteration with a premature-close error: that is the stop.
      if (!signal.aborted) throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
      // A regular file's reads end with the loop over them (fileChunks closes it).
      if (stream !== undefined && stream !== this.#stdin) stream.destroy();
    }
  }

  /**
   * Queues the complete lines of one read into `pending` and keeps what is left of it in `state`.
   * A method of its own, not part of run's loop: the line loop runs once a line, the read loop once
   * a read, and V8 optimises what is hot — inside the asynchronous run, that was all of run, its
   * biggest compilation on the main thread (~100 ms of a 200 000-line run's, `--trace-opt`).
   */
  #split(buffer: Buffer, state: ReadState, pending: PendingLines, target: SourceTarget): void {
    let from = 0;
    // A UTF-8 byte order mark opening the input (Windows tools write one) is not part of the first
    // line: JSON's RFC lets a parser ignore it, and read as part of the line it would make that
    // line invalid JSON over a character no one can see. Offsets still count it.
    if (state.chunkOffset === 0 && hasBom(buffer)) from = state.lineOffset = BOM_BYTES;
    for (let at = buffer.indexOf(NEWLINE, from); at !== -1; at = buffer.indexOf(NEWLINE, from)) {
      this.#lines++;
      if (!state.skipping && state.partialBytes + (at - from) <= this.#maxLineBytes) {
        if (state.partialBytes === 0) pending.add(buffer, from, at, state.lineOffset, this.#lines);
        else {
          // A line that began in an earlier read: the one line copied into a buffer of its own.
          const line = Buffer.concat([...state.partial, buffer.subarray(from, at)]);
          pending.add(line, 0, line.length, state.lineOffset, this.#lines);
        }
      } else {
        const head = state.skipping
          ? headBytes([state.head], buffer.subarray(from, at))
          : headBytes(state.partial, buffer.subarray(from, at));
        this.#reject(target, state.partialBytes + (at - from), state, head);
      }
      if (state.partialBytes !== 0) {
        // Only a line begun in an earlier read has parts (none while skipping).
        state.partial.length = 0;
        state.partialBytes = 0;
      }
      state.skipping = false;
      from = at + 1;
      state.lineOffset = state.chunkOffset + from;
    }
    if (from < buffer.length && !state.skipping) {
      state.partialBytes += buffer.length - from;
      if (state.partialBytes > this.#maxLineBytes) {
        state.skipping = true;
        state.head = headBytes(state.partial, buffer.subarray(from));
        state.partial.length = 0;
      } else {
        // Copied: a file's next read reuses this chunk's memory (fileChunks).
        state.partial.push(Buffer.from(buffer.subarray(from)));
      }
    } else if (state.skipping) {
      state.partialBytes += buffer.length - from;
      if (state.head.length < REFUSED_HEAD_BYTES) state.head = headBytes([state.head], buffer.subarray(from));
    }
    state.chunkOffset += buffer.length;
  }

  /**
   * A line longer than maxLineBytes, ended (or the input's last): warned about, counted, and kept —
   * its number, offset, size and first bytes — to be pushed as its stand-in (#pushOverLong).
   */
  #reject(target: SourceTarget, bytes: number, state: ReadState, head: Buffer): void {
    this.#tooLong++;
    const line = this.#lines;
    target.logger.warn(
      { line, bytes, maxLineBytes: this.#maxLineBytes, path: this.#path },
      'ndjson line longer than maxLineBytes; dead-lettered as too-large',
    );
    this.#overLong.push({ line, offset: state.lineOffset, bytes, head });
  }

  /**
   * The lines longer than maxLineBytes read so far, each as its stand-in (RefusedRecord) with the
   * id and source the line would have had and its first bytes: a worker dead-letters it as
   * `too-large`. Pushed after the chunk's other lines.
   */
  async #pushOverLong(target: SourceTarget): Promise<void> {
    if (this.#overLong.length === 0) return;
    const lines = this.#overLong.splice(0);
    const records = lines.map(
      ({ line, offset, bytes, head }) =>
        new RefusedRecord(
          {
            data: head,
            source: `${this.#label}:${line}`,
            ...(this.#idPrefix === undefined ? {} : { id: `${this.#idPrefix}${offset}` }),
          },
          bytes,
          this.#maxLineBytes,
          'source.maxLineBytes',
        ),
    );
    this.#pushed += await target.pushRawRecords(records);
  }

  /** Pushes a batch of lines; a line too large for the queue is reported like an over-long one. */
  async #push(target: SourceTarget, lines: Lines): Promise<void> {
    const batch = this.#batch(lines, 0, lines.starts.length);
    try {
      this.#pushed += await target.pushLines(batch);
    } catch (error) {
      if (!(error instanceof RecordTooLargeError)) throw error;
      // Nothing of the batch was written (every line is sized before any is copied): push line by
      // line to find the ones that cannot fit.
      for (let i = 0; i < lines.starts.length; i++) {
        try {
          this.#pushed += await target.pushLines(this.#batch(lines, i, i + 1));
        } catch (inner) {
          if (!(inner instanceof RecordTooLargeError)) throw inner;
          this.#pushed += await this.#pushStandIn(target, lines, i, inner);
        }
      }
    }
  }

  /**
   * Line i, too large for the queue (larger than queue.maxRecordBytes, within maxLineBytes), as
   * its stand-in (RefusedRecord) with the id and source the line would have had: a worker
   * dead-letters it as `too-large`, with its first bytes.
   */
  async #pushStandIn(
    target: SourceTarget,
    lines: Lines,
    i: number,
    error: RecordTooLargeError,
  ): Promise<number> {
    const line = lines.numbers[i]!;
    target.logger.warn(
      { line, bytes: error.recordBytes, maxRecordBytes: error.maxRecordBytes, path: this.#path },
      'ndjson line larger than queue.maxRecordBytes; dead-lettered as too-large',
    );
    const event = {
      data: lines.bytes.subarray(lines.starts[i]!, lines.ends[i]!),
      source: `${this.#label}:${line}`,
      ...(this.#idPrefix === undefined ? {} : { id: `${this.#idPrefix}${lines.offsets[i]!}` }),
    };
    return target.pushRawRecords([new RefusedRecord(event, error.recordBytes, error.maxRecordBytes)]);
  }

  /** Lines [from, to) as a LineBatch: ids from the file and offsets, sources from line numbers. */
  #batch(lines: Lines, from: number, to: number): LineBatch {
    return lineBatch(lines, from, to, { sourcePrefix: `${this.#label}:`, idPrefix: this.#idPrefix });
  }
}
