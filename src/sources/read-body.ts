import type { IncomingMessage } from 'node:http';
import type { ByteHold } from './byte-budget.js';
import type { ContentDecoding } from './content-decoding.js';

/** How reading a request body ended. */
export type BodyOutcome =
  | { kind: 'read'; body: Buffer }
  /** More than maxBytes were received, or decoded. */
  | { kind: 'too-large' }
  /** The hold could not grow to the body read so far: too many body bytes are held at once. */
  | { kind: 'over-budget' }
  /** The decoder refused the bytes: not valid for the body's content coding. `message` says so. */
  | { kind: 'corrupt'; message: string }
  /** The signal aborted, or the client went away, before the body's end. */
  | { kind: 'aborted' }
  /** Nothing arrived for idleMs. */
  | { kind: 'idle' };

export interface BodyLimits {
  /** The most bytes received, and the most decoded. */
  maxBytes: number;
  /** Grown to the decoded bytes as they arrive. */
  hold: ByteHold;
  signal: AbortSignal;
  /** The longest the body may send nothing, ms. */
  idleMs: number;
}

/**
 * Reads `req`'s body, decoded as `decoding` says. Stops at the first chunk that takes the bytes
 * received or decoded past maxBytes, or that the hold has no room for: the decoder is destroyed
 * there, so a small compressed body that inflates to gigabytes costs maxBytes of output at most.
 * Unless the body was read, what is left of it is unread and `req` is paused.
 */
export function readBody(
  req: IncomingMessage,
  decoding: ContentDecoding,
  limits: BodyLimits,
): Promise<BodyOutcome> {
  const { maxBytes, hold, signal, idleMs } = limits;
  return new Promise((resolve) => {
    const decoder = decoding.kind === 'decoded' ? decoding.create() : undefined;
    const coding = decoding.kind === 'decoded' ? decoding.name : 'identity';
    const chunks: Buffer[] = [];
    let received = 0;
    let decoded = 0;
    let receivedAll = false;
    let done = false;

    // Armed while bytes are awaited from the client, reset by each chunk.
    let idle: NodeJS.Timeout | undefined;
    const finish = (outcome: BodyOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      req.off('data', onReceived).off('end', onReceivedAll).off('error', onGone).off('close', onClosed);
      signal.removeEventListener('abort', onGone);
      if (outcome.kind !== 'read') {
        req.pause();
        chunks.length = 0;
        decoder?.destroy();
      }
      resolve(outcome);
    };
    const onDecoded = (chunk: Buffer) => {
      if (done) return;
      decoded += chunk.length;
      if (decoded > maxBytes) return finish({ kind: 'too-large' });
      if (!hold.growTo(decoded)) return finish({ kind: 'over-budget' });
      chunks.push(chunk);
    };
    const onReceived = (chunk: Buffer) => {
      idle?.refresh();
      received += chunk.length;
      if (received > maxBytes) return finish({ kind: 'too-large' });
      if (decoder === undefined) return onDecoded(chunk);
      if (decoderEnded && endsAtData) return trailing();
      // TCP holds the client back while the decoder catches up.
      if (!decoder.write(chunk)) req.pause();
    };
    const whole = () => finish({ kind: 'read', body: Buffer.concat(chunks, decoded) });
    // deflate and br decoders end at the end of the compressed data and pass over what follows it:
    // bytes after it are a corrupt body, not a part of the body to drop. (gzip's decoder refuses
    // such bytes itself, and leaves zeros after the last member unread, as padding it accepts.)
    const endsAtData = coding === 'deflate' || coding === 'br';
    let decoderEnded = false;
    const trailing = () =>
      finish({
        kind: 'corrupt',
        message: `${coding} body is corrupt: ${received - decoder!.bytesWritten} bytes follow the end of its compressed data`,
      });
    const decodedAll = () => {
      decoderEnded = true;
      if (receivedAll) settleDecoded();
    };
    const settleDecoded = () => (endsAtData && decoder!.bytesWritten < received ? trailing() : whole());
    const onReceivedAll = () => {
      receivedAll = true;
      clearTimeout(idle);
      if (decoder === undefined) whole();
      else if (decoderEnded) settleDecoded();
      else decoder.end();
    };
    const onGone = () => finish({ kind: 'aborted' });
    const onClosed = () => {
      if (!receivedAll) onGone();
    };

    if (decoder !== undefined) {
      decoder.on('data', onDecoded).once('end', decodedAll);
      decoder.on('drain', () => {
        if (!done) req.resume();
      });
      decoder.on('error', (error: Error) =>
        finish({ kind: 'corrupt', message: `${coding} body is corrupt: ${error.message}` }),
      );
    }
    if (signal.aborted) return onGone();
    signal.addEventListener('abort', onGone, { once: true });
    idle = setTimeout(() => finish({ kind: 'idle' }), idleMs);
    req.on('data', onReceived).once('end', onReceivedAll).once('error', onGone).once('close', onClosed);
  });
}
