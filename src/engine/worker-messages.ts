/**
 * Every message between the pipeline's main thread and its workers outside piscina's tasks. Each
 * carries a `code` the receiver switches on, so nothing crosses a thread untyped:
 *
 *   CLOSE   main thread → every worker, on the close channel: close your sinks
 *   CLOSED  one worker → the main thread (the other workers hear it too and ignore it): its sinks
 *           are closed
 *
 * A task's own outcome crosses through piscina: the BatchResult it resolved with, or the
 * SerializedError (src/errors.ts) it threw.
 */
export type WorkerMessage = { code: 'CLOSE' } | { code: 'CLOSED'; threadId: number };

/** `data` as a WorkerMessage, or undefined for anything else that reached the channel. */
export function asWorkerMessage(data: unknown): WorkerMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const code = (data as { code?: unknown }).code;
  if (code === 'CLOSE') return { code };
  if (code === 'CLOSED') {
    const threadId = (data as { threadId?: unknown }).threadId;
    return typeof threadId === 'number' ? { code, threadId } : undefined;
  }
  return undefined;
}
