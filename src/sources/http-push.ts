import { setTimeout as sleep } from 'node:timers/promises';
import type { BodyEvents } from './http-body-events.js';
import type { SourceTarget } from './source.js';
import { unlessAborted } from './unless-aborted.js';

/** How often a request waiting for room (fullWaitMs) looks at the ring again, ms. */
const ROOM_POLL_MS = 5;
/** A chunk pushed at once is at most this share of a partition's ring. */
const CHUNK_SHARE_OF_RING = 16;

/**
 * Pushes `events` in order, a chunk at a time, each only once the ring has room for it, so a push
 * never waits on a full ring behind a stalled sink. Returns how many were accepted: a prefix of
 * `events`. Fewer than all when the ring stayed full past `fullWaitMs`, or `signal` aborted (the
 * source is stopping, or the client went away). A chunk whose push was under way when `signal`
 * aborted is reported to `onLate` once the pipeline took it.
 */
export async function pushWithRoom(
  target: SourceTarget,
  signal: AbortSignal,
  events: BodyEvents,
  fullWaitMs: number,
  onLate: (accepted: number) => void,
): Promise<number> {
  // capacityBytes is per partition ring.
  const { capacityBytes, maxRecordBytes } = target.options.queue;
  const chunkBytes = Math.max(maxRecordBytes, capacityBytes / CHUNK_SHARE_OF_RING);
  let accepted = 0;
  let i = 0;
  while (i < events.length) {
    let end = i;
    let needed = 0;
    while (end < events.length) {
      const size = events.size(end);
      if (end > i && needed + size > chunkBytes) break;
      needed += size;
      end++;
    }
    if (!(await waitForRoom(target, signal, needed, fullWaitMs))) break;
    let pushed: number;
    try {
      // Room was there when looked at, but another producer may have taken it since: then the
      // push waits, and a stop must not wait with it.
      const push = events.push(target, i, end);
      const settled = await unlessAborted(push, signal);
      if (settled === undefined) {
        // Whether the pipeline takes this chunk is not known yet, so the client is told none of
        // it was accepted: a resend may duplicate it, never lose it. Counted once it is known.
        push.then(onLate, () => undefined);
        break;
      }
      pushed = settled.value;
    } catch (error) {
      // The reject policy refused mid-chunk: how much of the chunk got in is unknown, so none of
      // it is reported accepted — the client's resend may duplicate some, never lose any.
      if ((error as { code?: unknown }).code === 'SLUICE_QUEUE_FULL') break;
      throw error;
    }
    accepted += pushed;
    // A drop policy discarded some: stop here, the rest is refused rather than dropped too.
    if (pushed < end - i) break;
    i = end;
  }
  return accepted;
}

/**
 * True once the ring — with a disk queue, the log's backlog — has `bytes` free; false if it did
 * not within `fullWaitMs` or `signal` aborted.
 */
async function waitForRoom(
  target: SourceTarget,
  signal: AbortSignal,
  bytes: number,
  fullWaitMs: number,
): Promise<boolean> {
  const deadline = performance.now() + fullWaitMs;
  for (;;) {
    if (signal.aborted) return false;
    const stats = target.stats();
    const { durability, maxDiskBytes } = target.options.queue;
    if (durability === 'disk') {
      // Pushes go to the log on disk, which feeds the ring: the room is the log's backlog's.
      const backlog = stats.disk?.backlogBytes ?? 0;
      if (backlog === 0 || backlog + bytes <= maxDiskBytes) return true;
    } else if (stats.partitions.every((ring) => ring.capacityBytes - ring.depthBytes >= 2 * bytes)) {
      // Key-less events of one push go to one ring, picked at the push: room in each is needed.
      // Twice the chunk: a group that does not fit before the ring's end is padded to it and
      // written at the start, and that padding is smaller than the group.
      return true;
    }
    const left = deadline - performance.now();
    if (left <= 0) return false;
    // Room appears when a worker releases a batch, which this thread hears of through no event.
    await sleep(Math.min(ROOM_POLL_MS, left), undefined, { signal }).catch(() => undefined);
  }
}
