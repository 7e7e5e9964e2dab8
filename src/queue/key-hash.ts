/**
 * FNV-1a over the key's UTF-16 code units: stable across threads, processes and Node versions,
 * so the same key always picks the same partition.
 */
export function keyHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
