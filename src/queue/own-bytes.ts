/**
 * A caller's Uint8Array read through the typed array's own (intrinsic) accessors, never through
 * properties the caller could have replaced: a subclass or an instance may define `byteLength`,
 * `byteOffset` or `buffer` getters that lie, and a Proxy passes `instanceof Uint8Array`. A record's
 * size taken from a lying length would let its real bytes, copied with `TypedArray#set` (which
 * reads the internal length), run past the space reserved for it in the ring.
 */
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;

function intrinsicGetter<T>(name: string): (this: Uint8Array) => T {
  return Object.getOwnPropertyDescriptor(typedArrayPrototype, name)!.get as (this: Uint8Array) => T;
}

const lengthGetter = intrinsicGetter<number>('byteLength');
const offsetGetter = intrinsicGetter<number>('byteOffset');
const bufferGetter = intrinsicGetter<ArrayBufferLike>('buffer');

/** The number of bytes `bytes` really holds; throws TypeError for anything but a typed array. */
export function ownByteLength(bytes: Uint8Array): number {
  return lengthGetter.call(bytes);
}

/** A plain Uint8Array over the first `length` bytes `bytes` really holds (no copy). */
export function ownView(bytes: Uint8Array, length = ownByteLength(bytes)): Uint8Array {
  return new Uint8Array(bufferGetter.call(bytes), offsetGetter.call(bytes), length);
}

/**
 * Whether `bytes` is a view of an ArrayBuffer that was detached (transferred): it then reports no
 * bytes at all, and copying from it throws — once room for it is reserved in a ring, a throw there
 * would leave a hole no consumer steps over. Asked only of an empty view, the one that can be so.
 */
export function isDetached(bytes: Uint8Array): boolean {
  try {
    new Uint8Array(bufferGetter.call(bytes), 0, 0);
    return false;
  } catch {
    return true;
  }
}
