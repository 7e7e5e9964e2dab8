/**
 * An empty array made to hold objects from the start. V8 gives a `[]` the elements kind of small
 * integers and changes it at the first object pushed: code optimised while the array was still
 * empty, or for a list that is replaced by a fresh `[]` every batch, is thrown away there ("not a
 * Smi", "wrong map" in `--trace-deopt`). Made from a one-element literal emptied, the array has
 * the kind of `sample` (an object) and keeps it. For a hot loop's lists; `sample` is never stored.
 */
export function emptyObjectList<T extends object>(sample: T): T[] {
  const list = [sample];
  list.length = 0;
  return list;
}
