import { describe, expect, it } from 'vitest';
import { TaskAbort } from '../../src/engine/task-deadlines.js';

describe('TaskAbort (the abort signal handed to piscina per task)', () => {
  it('calls its listener once, on the first abort, with aborted and reason set before the call', () => {
    const abort = new TaskAbort();
    const seen: [boolean, unknown][] = [];
    abort.addEventListener('abort', () => seen.push([abort.aborted, abort.reason]));
    expect(abort.aborted).toBe(false);
    abort.abort('timed out');
    abort.abort('again');
    expect(seen).toEqual([[true, 'timed out']]);
  });

  it('does not call a listener once removed; removing a different one leaves it registered', () => {
    const abort = new TaskAbort();
    const calls: string[] = [];
    const first = () => calls.push('first');
    abort.addEventListener('abort', first);
    abort.removeEventListener('abort', first);
    abort.abort();
    expect(calls).toEqual([]);
    expect(abort.aborted).toBe(true);
    // Removing some other listener leaves the registered one in place.
    const other = new TaskAbort();
    other.addEventListener('abort', () => calls.push('kept'));
    other.removeEventListener('abort', first);
    other.abort();
    expect(calls).toEqual(['kept']);
  });
});
