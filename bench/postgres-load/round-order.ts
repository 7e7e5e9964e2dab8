/**
 * The order of round `round`: the list rotated by the round number (A B C, B C A, C A B, …), so
 * each system takes each position in turn and none always follows the same neighbour's leftovers
 * (a warmer cache, a checkpoint, autovacuum).
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const n = items.length;
  return items.map((_, i) => items[(i + round) % n]!);
}
