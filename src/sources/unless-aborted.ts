/** `{ value }` once `promise` resolves, or undefined as soon as `signal` aborts; rejects as `promise` does. */
export function unlessAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<{ value: T } | undefined> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve({ value });
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
